// Test support for integration tests: a private Postern instance in a temporary directory
// (main.cf, master.cf, queue), the built programs, free loopback ports, and a small line
// client. Every instance is stopped and removed when the test ends.
import Foundation
import XCTest

/// The directory holding the built executables (the test bundle sits beside them).
let buildProducts: String = {
    let me = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
    if FileManager.default.fileExists(atPath: me.appendingPathComponent("master").path) { return me.path }
    // `swift test` may run the bundle through a runner; fall back to the package layout.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug").path
}()

/// Adds search permission for everyone to each folder above PATH that lacks it, so that a
/// program in a checkout made with mode 0700 (mktemp -d) can be run as another user.
func makeReachableByEveryone(_ path: String) {
    var prefix = ""
    for part in path.split(separator: "/") {
        prefix += "/" + part
        var st = stat()
        guard stat(prefix, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_mode & 0o001 == 0 else { continue }
        chmod(prefix, (st.st_mode & 0o7777) | 0o001)
    }
}

/// Runs a program to completion; returns its status and what it printed.
@discardableResult
func runProgram(_ path: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil) -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe()
    let err = Pipe()
    let inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inPipe
    do { try process.run() } catch { return (127, "", "\(error)") }
    if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
    try? inPipe.fileHandleForWriting.close()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// A TCP port on 127.0.0.1 that nobody listens on right now.
func freePort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            bind(fd, p, length)
            return getsockname(fd, p, &length)
        }
    }
    return UInt16(bigEndian: address.sin_port)
}

/// Polls CONDITION every 50 ms for at most SECONDS.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

/// True while a process with PID exists (and is not a zombie).
func processAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    guard let close = stat.lastIndex(of: ")") else { return false }
    return !stat[close...].hasPrefix(") Z")
}

/// The pids whose parent is PID.
func childPids(of pid: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { p in
        guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 && Int32(fields[1]) == pid && fields[0] != "Z"
    }
}

final class TestInstance {
    let root: String
    var etc: String { root + "/etc" }
    var spool: String { root + "/spool" }
    var logPath: String { root + "/maillog" }

    /// A fresh instance; MASTERCF is written as given, MAIN adds to the base main.cf.
    init(masterCF: String, main: [String] = []) throws {
        root = NSTemporaryDirectory() + "postern-test-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        chmod(root, 0o755)
        let base = [
            "compatibility_level = 3.7",
            "queue_directory = \(spool)",
            "data_directory = \(root)/data",
            "daemon_directory = \(buildProducts)",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "maillog_file = \(logPath)",
            "maillog_file_prefixes = \(root)",
            "myhostname = mx.example.test",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "service_throttle_time = 2s",
        ]
        try writeFile("main.cf", (base + main).joined(separator: "\n") + "\n")
        try writeFile("master.cf", masterCF)
    }

    /// Writes a configuration file readable by the unprivileged children.
    func writeFile(_ name: String, _ text: String) throws {
        try text.write(toFile: etc + "/" + name, atomically: true, encoding: .utf8)
        chmod(etc + "/" + name, 0o644)
    }

    deinit {
        if let pid = masterPid, processAlive(pid) {
            kill(pid, SIGTERM)
            _ = eventually(8) { !processAlive(pid) }
            if processAlive(pid) { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs a Postern program with `-c etc`.
    @discardableResult
    func run(_ program: String, _ arguments: [String], input: String? = nil) -> (status: Int32, stdout: String, stderr: String) {
        runProgram(buildProducts + "/" + program, ["-c", etc] + arguments, input: input)
    }

    func start(file: StaticString = #filePath, line: UInt = #line) {
        let r = run("postern", ["start"])
        XCTAssertEqual(r.status, 0, "postern start: \(r.stderr)", file: file, line: line)
    }

    func stop() { run("postern", ["stop"]) }

    var masterPid: Int32? {
        guard let text = try? String(contentsOfFile: spool + "/pid/master.pid", encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func appendMasterCF(_ line: String) throws {
        let text = try String(contentsOfFile: etc + "/master.cf", encoding: .utf8)
        try writeFile("master.cf", text + (text.hasSuffix("\n") ? "" : "\n") + line + "\n")
    }

    func writeMasterCF(_ text: String) throws {
        try writeFile("master.cf", text)
    }

    /// `postern status` process rows for the service whose key contains NAME: (pid, state).
    func processes(_ name: String) -> [(pid: Int32, state: String)] {
        let out = run("postern", ["status"]).stdout
        return out.split(separator: "\n").compactMap { row in
            let f = row.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 4, let pid = Int32(f[0]), f[1].contains(name) else { return nil }
            return (pid, String(f[2]))
        }
    }
}

/// A line-oriented TCP client for tests.
final class LineClient {
    let fd: Int32
    var buffer: [UInt8] = []
    /// errno of the last failed read (0 = end of stream).
    var lastError: Int32 = 0

    init?(port: UInt16, host: String = "127.0.0.1") {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let ai = result else { return nil }
        defer { freeaddrinfo(result) }
        fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            close(fd)
            return nil
        }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) {
        _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// The next line without its line ending, or nil at end of stream / time-out.
    func readLine() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                lastError = n < 0 ? errno : 0
                return nil
            }
            buffer += chunk[0..<n]
        }
    }

    /// testd's greeting as a dictionary (`pid`, `gen`, `served`, `fds`).
    func greeting() -> [String: String]? {
        guard let line = readLine() else { return nil }
        var result: [String: String] = [:]
        for pair in line.split(separator: " ") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { result[String(kv[0])] = String(kv[1]) }
        }
        return result
    }
}
