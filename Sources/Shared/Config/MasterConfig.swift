// master.cf: the service table. Eight columns (service, type, private, unpriv, chroot,
// wakeup, maxproc, command + args) with `-` for the built-in default, Postfix's
// continuation lines, `{ … }` arguments, and the last of two same entries winning.

public enum ServiceType: String, CaseIterable {
    case inet, unix
    case unixDgram = "unix-dgram"
    case fifo, pass
}

/// One service line of master.cf, its defaults applied.
public struct ServiceEntry: Equatable {
    public var name: String
    public var type: ServiceType
    public var isPrivate: Bool
    public var unprivileged: Bool
    public var chroot: Bool
    /// Wake-up interval in seconds (0 = none); conditional = only after first use (`?`).
    public var wakeup: Int
    public var wakeupConditional: Bool
    /// 0 = no limit.
    public var maxproc: Int
    public var command: String
    public var arguments: [String]
    public var line: Int
    /// The columns as written (for `postconf -M`).
    public var columns: [String]
    /// For inet: the host part (nil = every address in inet_interfaces) and the port.
    public var inetHost: String?
    public var inetPort: UInt16 = 0

    /// Identity across reloads: type plus the canonical name (`inet:127.0.0.1:25`).
    public var key: String {
        if type == .inet { return "inet:" + (inetHost ?? "*") + ":\(inetPort)" }
        return type.rawValue + ":" + name
    }

    /// The `-o name=value` overrides among the arguments, in order.
    public var overrides: [String] {
        var result: [String] = []
        var i = 0
        while i < arguments.count {
            if arguments[i] == "-o", i + 1 < arguments.count {
                result.append(arguments[i + 1])
                i += 2
            } else {
                i += 1
            }
        }
        return result
    }

    /// The value of `-o NAME=…` if given.
    public func override(_ name: String) -> String? {
        for o in overrides.reversed() {
            guard let eq = o.firstIndex(of: "=") else { continue }
            if String(o[..<eq]).trimmed == name { return String(o[o.index(after: eq)...]).trimmed }
        }
        return nil
    }

    /// The Unix socket path under the queue directory (`private/NAME` or `public/NAME`).
    public var socketPath: String { (isPrivate ? "private/" : "public/") + name }
}

public struct MasterConfig {
    public private(set) var entries: [ServiceEntry] = []
    public private(set) var warnings: [String] = []

    /// Parses master.cf TEXT read from PATH. DEFAULTPROCESSLIMIT fills `-` in maxproc.
    public static func parse(_ text: String, path: String, defaultProcessLimit: Int) throws -> MasterConfig {
        var result = MasterConfig()
        for logical in logicalLines(text) {
            let entry = try parseEntry(logical, path: path, defaultProcessLimit: defaultProcessLimit)
            if let i = result.entries.firstIndex(where: { $0.key == entry.key }) {
                result.warnings.append(
                    "\(path): line \(entry.line): duplicate master.cf entry for service \"\(entry.name)\" (\(entry.type.rawValue)) -- using the last entry"
                )
                result.entries.remove(at: i)
            }
            result.entries.append(entry)
        }
        return result
    }

    /// Reads DIRECTORY/master.cf.
    public static func load(directory: String, defaultProcessLimit: Int) throws -> MasterConfig {
        let path = directory + "/master.cf"
        let text: String
        do {
            text = try FileIO.readText(path)
        } catch let e as SystemError {
            throw ConfigError("open \(path): \(errnoText(e.code))")
        }
        return try parse(text, path: path, defaultProcessLimit: defaultProcessLimit)
    }

    static func parseEntry(_ logical: LogicalLine, path: String, defaultProcessLimit: Int) throws -> ServiceEntry {
        let at = "\(path): line \(logical.line)"
        let words = try splitArguments(logical.text, at: at)
        guard words.count >= 8 else {
            throw ConfigError("\(at): bad field count: expected at least 8 fields, found \(words.count)")
        }
        guard let type = ServiceType(rawValue: words[1]) else {
            throw ConfigError("\(at): field \"type\": bad value: \"\(words[1])\"")
        }
        func flag(_ index: Int, _ field: String, _ fallback: Bool) throws -> Bool {
            switch words[index] {
            case "-": return fallback
            case "y": return true
            case "n": return false
            default: throw ConfigError("\(at): field \"\(field)\": bad value: \"\(words[index])\"")
            }
        }
        func number(_ index: Int, _ field: String, _ fallback: Int) throws -> (Int, Bool) {
            let w = words[index]
            if w == "-" { return (fallback, false) }
            let digits = w.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let n = Int(digits) else {
                throw ConfigError("\(at): field \"\(field)\": bad value: \"\(w)\"")
            }
            let rest = w.dropFirst(digits.count)
            guard rest.isEmpty || rest == "?" else { throw ConfigError("\(at): field \"\(field)\": bad value: \"\(w)\"") }
            return (n, rest == "?")
        }
        var isPrivate = try flag(2, "private", type != .inet)
        if type == .inet && words[2] == "y" {
            throw ConfigError("\(at): inet service cannot be private")
        }
        if type == .inet { isPrivate = false }
        let (wakeup, conditional) = try number(5, "wakeup", 0)
        let (maxproc, _) = try number(6, "maxproc", defaultProcessLimit)
        var entry = ServiceEntry(
            name: words[0], type: type, isPrivate: isPrivate,
            unprivileged: try flag(3, "unpriv", true), chroot: try flag(4, "chroot", false),
            wakeup: wakeup, wakeupConditional: conditional, maxproc: maxproc,
            command: words[7], arguments: Array(words[8...]), line: logical.line,
            columns: Array(words.prefix(7)))
        if type == .inet { try parseInetName(&entry, at: at) }
        try checkOverrides(entry.arguments, at: at)
        return entry
    }

    /// `port`, `host:port`, `[host]:port`, `[ipv6]:port`, symbolic ports.
    static func parseInetName(_ entry: inout ServiceEntry, at: String) throws {
        var host: String?
        var port = entry.name
        if entry.name.hasPrefix("[") {
            guard let close = entry.name.firstIndex(of: "]") else {
                throw ConfigError("\(at): bad inet service address: \"\(entry.name)\"")
            }
            host = String(entry.name[entry.name.index(after: entry.name.startIndex)..<close])
            let after = entry.name[entry.name.index(after: close)...]
            guard after.hasPrefix(":") else { throw ConfigError("\(at): missing port in \"\(entry.name)\"") }
            port = String(after.dropFirst())
        } else if let colon = entry.name.lastIndex(of: ":") {
            host = String(entry.name[..<colon])
            port = String(entry.name[entry.name.index(after: colon)...])
        }
        if host == "" || host == "*" { host = nil }
        guard let number = resolvePort(port), number > 0 else {
            throw ConfigError("\(at): unknown service: \"\(port)\"")
        }
        entry.inetHost = host
        entry.inetPort = number
    }

    static func checkOverrides(_ arguments: [String], at: String) throws {
        var i = 0
        while i < arguments.count {
            if arguments[i] == "-o" {
                guard i + 1 < arguments.count, arguments[i + 1].contains("=") else {
                    throw ConfigError("\(at): -o option requires name=value")
                }
                i += 2
            } else {
                i += 1
            }
        }
    }

    /// Splits a logical line into words; `{ text }` is one word (braces and the white space
    /// next to them removed), and `-o { name = value }` becomes `-o name=value`.
    static func splitArguments(_ text: String, at: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var depth = 0
        var braced = false
        for ch in text {
            if depth > 0 {
                if ch == "{" { depth += 1 }
                if ch == "}" {
                    depth -= 1
                    if depth == 0 { continue }
                }
                current.append(ch)
            } else if ch == "{" && current.isEmpty {
                depth = 1
                braced = true
            } else if ch == " " || ch == "\t" {
                if !current.isEmpty || braced { words.append(braced ? current.trimmed : current) }
                current = ""
                braced = false
            } else {
                current.append(ch)
            }
        }
        guard depth == 0 else { throw ConfigError("\(at): missing '}' in \"\(text)\"") }
        if !current.isEmpty || braced { words.append(braced ? current.trimmed : current) }
        // `-o { name = value }`: fold white space around the first '='.
        for i in words.indices where i > 0 && words[i - 1] == "-o" {
            if let eq = words[i].firstIndex(of: "=") {
                words[i] = String(words[i][..<eq]).trimmed + "=" + String(words[i][words[i].index(after: eq)...]).trimmed
            }
        }
        return words
    }
}
