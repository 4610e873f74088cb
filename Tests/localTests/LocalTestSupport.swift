// Helpers for local's tests: a scratch directory, a password database of invented users
// living in it (with the tests' own uid), an aliases table built the way postalias
// builds it, settings from main.cf overrides, message files, and the log lines a piece
// of code writes.
import Foundation
import XCTest

@testable import Shared
@testable import local

/// A fresh directory under /tmp that anyone may enter (commands run as nobody when the
/// tests run as root).
func makeLocalScratch() -> String {
    let path = NSTemporaryDirectory() + "postern-local-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    chmod(path, 0o755)
    return path
}

func removeLocalScratch(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

func writeLocalFile(_ path: String, _ text: String, mode: mode_t = 0o644) {
    try! Data(text.utf8).write(to: URL(fileURLWithPath: path))
    chmod(path, mode)
}

func readLocalFile(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

func listDirectory(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// The unprivileged account commands and files run as: the real `nobody` as root,
/// otherwise ourselves.
func unprivilegedTestUser() -> LocalUser {
    if getuid() == 0, let nobody = try? SystemUsers().user(named: "nobody") { return nobody }
    return LocalUser(name: "nobody", uid: getuid(), gid: getgid(), home: "/nonexistent", shell: "/bin/sh")
}

/// Invented users with homes under a scratch directory, all with our uid and gid.
final class FakeUsers: UserDatabase {
    var users: [String: LocalUser] = [:]
    var failing = false

    init(scratch: String, names: [String]) {
        for name in names {
            let home = scratch + "/home/" + name
            try! FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            users[name] = LocalUser(name: name, uid: getuid(), gid: getgid(), home: home, shell: "/bin/sh")
        }
        users["nobody"] = unprivilegedTestUser()
    }

    func user(named name: String) throws -> LocalUser? {
        if failing { throw SystemError("look up user \(name)", code: EIO) }
        return users[name]
    }

    /// Owners of alias tables and :include: files are real accounts.
    func user(uid: uid_t) throws -> LocalUser? {
        try SystemUsers().user(uid: uid)
    }
}

/// A configuration for the tests: mydestination example.com, myorigin example.com, and
/// the given overrides.
func localTestConfig(_ scratch: String, _ overrides: [String: String] = [:]) -> MainConfig {
    let config = MainConfig(directory: scratch)
    config.setOverride("myhostname", "mx.example.com")
    config.setOverride("mydomain", "example.com")
    config.setOverride("myorigin", "example.com")
    config.setOverride("mydestination", "example.com, localhost")
    config.setOverride("home_mailbox", "Maildir/")
    config.setOverride("mail_spool_directory", scratch + "/spool")
    config.setOverride("alias_maps", "")
    config.setOverride("deliver_lock_attempts", "2")
    config.setOverride("deliver_lock_delay", "0")
    for (name, value) in overrides { config.setOverride(name, value) }
    return config
}

func localTestSettings(_ scratch: String, _ overrides: [String: String] = [:]) -> LocalSettings {
    try! LocalSettings(localTestConfig(scratch, overrides))
}

/// Builds `cdb:SCRATCH/NAME` from aliases(5) TEXT, as postalias does; returns the spec.
func buildAliases(_ scratch: String, _ text: String, name: String = "aliases") -> String {
    let path = scratch + "/" + name
    writeLocalFile(path, text)
    var options = TableBuilder.Options()
    options.asSourceOwner = false
    try! TableBuilder.build(TableSpec(type: "cdb", name: path), format: .aliases, flags: .standard, options: options)
    return "cdb:" + path
}

/// A message file with TEXT (lines separated by \n) in SCRATCH.
func writeMessage(_ scratch: String, _ text: String, name: String = "message") -> MessageFile {
    let path = scratch + "/" + name
    writeLocalFile(path, text)
    return try! MessageFile(path: path)
}

/// Runs BODY and returns its result with the log lines it wrote (without the time stamp
/// and host prefix: from `postfix/local[pid]: ` on).
func capturingLocalLog<T>(_ body: () throws -> T) rethrows -> (T, [String]) {
    let path = NSTemporaryDirectory() + "postern-local-log-" + UUID().uuidString
    Log.configure(syslogName: "postfix", program: "local", hostname: "mx.example.com", maillog: path)
    defer {
        Log.configure(syslogName: "postfix", program: "local", hostname: "mx.example.com", maillog: "/dev/null")
        try? FileManager.default.removeItem(atPath: path)
    }
    let result = try body()
    let lines = readLocalFile(path).split(separator: "\n").map { line -> String in
        guard let range = line.range(of: "postfix/local[") else { return String(line) }
        let rest = line[range.upperBound...]
        guard let close = rest.range(of: "]: ") else { return String(rest) }
        return String(rest[close.upperBound...])
    }
    return (result, lines)
}

/// The content lines of a delivered file.
func lines(_ text: String) -> [String] {
    text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}
