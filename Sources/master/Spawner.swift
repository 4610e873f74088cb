// Starting a child with posix_spawn + exec, never fork: argv as Postfix's master builds it
// (`-l`, `-z`, `-n`, `-t`, `-u`, `-c`, `-s`), a clean environment (import_environment plus
// MAIL_CONFIG and GENERATION), fd 5 = status channel, fd 6.. = listen sockets, nothing else.
import CSupport
import Glibc
import Shared

enum Spawner {
    /// The argv for a child of ENTRY.
    static func arguments(_ entry: ServiceEntry, daemonDirectory: String, listenCount: Int) -> [String] {
        let path = entry.command.hasPrefix("/") ? entry.command : daemonDirectory + "/" + entry.command
        var argv = [path]
        if entry.maxproc == 1 { argv.append("-l") }
        if entry.maxproc == 0 { argv.append("-z") }
        let base = entry.command.split(separator: "/").last.map(String.init) ?? entry.command
        if base != entry.name { argv += ["-n", entry.name] }
        argv += ["-t", entry.type.rawValue]
        if entry.unprivileged { argv.append("-u") }
        if entry.chroot { argv.append("-c") }
        if listenCount > 1 { argv += ["-s", String(listenCount)] }
        return argv + entry.arguments
    }

    /// The child environment: what `import_environment` names (NAME keeps ours, NAME=value
    /// sets it), MAIL_CONFIG and GENERATION (octal).
    static func environment(config: MainConfig, generation: UInt32) -> [String] {
        var env: [String] = []
        for item in config.list("import_environment") {
            if item.contains("=") {
                env.append(item)
            } else if let v = ThisProcess.environment(item) {
                env.append(item + "=" + v)
            }
        }
        env.removeAll { $0.hasPrefix("MAIL_CONFIG=") || $0.hasPrefix("GENERATION=") }
        env.append("MAIL_CONFIG=" + config.directory)
        env.append("GENERATION=" + String(generation, radix: 8))
        return env
    }

    /// Spawns one child; returns its pid. stdout and stderr stay the master's.
    static func spawn(argv: [String], environment: [String], descriptors: [Int32]) throws -> Int32 {
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { if devnull >= 0 { close(devnull) } }
        return try Spawn.run(argv, environment: environment, descriptors: descriptors, firstTarget: ServiceFD.status, stdio: [devnull, -1, -1])
    }
}
