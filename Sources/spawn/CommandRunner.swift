// Running the policy command for one connection (Postfix's spawn_command): the socket
// becomes its standard input, output and error; it runs in its own session as the
// configured user (as root through setpriv(1), which sets the real and effective ids
// and the one group for good; our own process is never forked); only export_environment
// reaches it; after the time limit its whole process group is killed. An exit other
// than 0 is logged as `command PATH exit status N` or `killed by signal N`.
import Glibc
import Shared

struct CommandRunner {
    static let setpriv = "/usr/bin/setpriv"

    let attributes: SpawnAttributes
    /// The identity to switch to; nil when we are not root (development mode: the
    /// command runs as we do).
    let identity: (uid: uid_t, gid: gid_t)?
    let environment: [String]
    /// `<service>_time_limit` in seconds.
    let timeLimit: Int

    /// The environment the command gets: export_environment's names with our values
    /// (or `NAME=value` as written).
    static func exported(_ names: [String]) -> [String] {
        names.compactMap { item in
            if item.contains("=") { return item }
            return ThisProcess.environment(item).map { item + "=" + $0 }
        }
    }

    /// The program to start for ARGV0: itself when it has a slash, else the first
    /// executable of that name in PATH.
    static func locate(_ argv0: String, path: String) -> String {
        if argv0.contains("/") { return argv0 }
        for directory in path.split(separator: ":") where access(directory + "/" + argv0, X_OK) == 0 {
            return directory + "/" + argv0
        }
        return argv0
    }

    /// The argv to spawn: through setpriv when switching identity.
    var spawnArguments: [String] {
        let searchPath = environment.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/bin:/bin"
        var command = attributes.argv
        command[0] = CommandRunner.locate(command[0], path: searchPath)
        guard let identity else { return command }
        return [CommandRunner.setpriv, "--reuid=\(identity.uid)", "--regid=\(identity.gid)", "--groups=\(identity.gid)", "--"] + command
    }

    /// Runs the command on the connection SOCKET and waits for it (or kills it).
    func serve(_ socket: Int32) {
        let pid: pid_t
        do {
            pid = try Spawn.run(spawnArguments, environment: environment, stdio: [socket, socket, socket], newSession: true)
        } catch {
            Log.warning("\(error)")
            return
        }
        let status = wait(for: pid)
        let (code, signal) = Spawn.describe(status: status)
        if signal != 0 {
            Log.warning("command \(attributes.argv[0]) killed by signal \(signal)")
        } else if code != 0 {
            Log.warning("command \(attributes.argv[0]) exit status \(code)")
        }
    }

    /// The wait status of PID, killing its process group at the time limit.
    func wait(for pid: pid_t) -> Int32 {
        let deadline = Clock.monotonicMs() + Int64(max(1, timeLimit)) * 1000
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return status }
            if reaped < 0 && errno != EINTR { return status }
            if Clock.monotonicMs() >= deadline {
                Log.warning("\(attributes.argv[0]): process id \(pid): command time limit exceeded")
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return status
            }
            usleep(50_000)
        }
    }
}
