// main.cf: Postfix's syntax and semantics. Logical lines (`name = value`, lines starting
// with white space continue the previous one, `#` comment lines), values kept raw and
// expanded lazily (`$name`, `${name}`, `$(name)`, `${name?text}`, `${name:text}`,
// `${name?{a}:{b}}`, `${{x} op {y} ? {a} : {b}}`), master.cf `-o` overrides on top.
import Glibc

public final class MainConfig {
    /// One `name = value` from main.cf and the line it starts on.
    public struct Setting {
        public let value: String
        public let line: Int
    }

    /// The configuration directory (`-c DIR`, `$MAIL_CONFIG`, or the built-in default).
    public let directory: String
    public var path: String { directory + "/main.cf" }
    /// Parameters set in main.cf, in file order.
    public private(set) var settings: [String: Setting] = [:]
    public private(set) var order: [String] = []
    /// Values given with `-o name=value`; they win over main.cf.
    public private(set) var overrides: [String: String] = [:]
    /// Service names from master.cf, for service-specific parameter names.
    public var serviceNames: Set<String> = []

    /// An empty configuration (only built-in defaults) for DIRECTORY.
    public init(directory: String) {
        self.directory = directory
    }

    /// Reads DIRECTORY/main.cf.
    public static func load(directory: String) throws -> MainConfig {
        let config = MainConfig(directory: directory)
        let text: String
        do {
            text = try FileIO.readText(config.path)
        } catch let e as SystemError {
            throw ConfigError("open \(config.path): \(errnoText(e.code))")
        }
        try config.parse(text)
        return config
    }

    /// The configuration directory for a program: `-c DIR` if given, else `$MAIL_CONFIG`,
    /// else the built-in default.
    /// The result is absolute, since daemons change to the queue directory.
    public static func locateDirectory(_ flag: String?) -> String {
        var directory = ParameterRegistry.all["config_directory"]!.defaultValue
        if let flag, !flag.isEmpty {
            directory = flag
        } else if let env = ThisProcess.environment("MAIL_CONFIG"), !env.isEmpty {
            directory = env
        }
        guard !directory.hasPrefix("/"), let resolved = realpath(directory, nil) else { return directory }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    func parse(_ text: String) throws {
        for entry in logicalLines(text) {
            guard let eq = entry.text.firstIndex(of: "=") else {
                throw ConfigError("\(path), line \(entry.line): missing '=' after attribute name: \"\(entry.text)\"")
            }
            let name = String(entry.text[..<eq]).trimmed
            let value = String(entry.text[entry.text.index(after: eq)...]).trimmed
            guard !name.isEmpty else {
                throw ConfigError("\(path), line \(entry.line): missing attribute name: \"\(entry.text)\"")
            }
            guard !name.contains(" ") && !name.contains("\t") else {
                throw ConfigError("\(path), line \(entry.line): bad parameter name: \"\(name)\"")
            }
            if settings[name] == nil { order.append(name) }
            settings[name] = Setting(value: value, line: entry.line)
        }
    }

    /// Applies a `-o name=value` override (also the long form's inner text `name = value`).
    public func override(_ assignment: String) throws {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw ConfigError("-o \(assignment): missing '=' after parameter name")
        }
        let name = String(assignment[..<eq]).trimmed
        guard !name.isEmpty else { throw ConfigError("-o \(assignment): missing parameter name") }
        overrides[name] = String(assignment[assignment.index(after: eq)...]).trimmed
    }

    public func setOverride(_ name: String, _ value: String) { overrides[name] = value }

    // MARK: values

    /// The unexpanded value: override, then main.cf, then the built-in default.
    public func raw(_ name: String) -> String? {
        if let o = overrides[name] { return o }
        if let s = settings[name] { return s.value }
        if let d = ParameterRegistry.definition(name, services: serviceNames) {
            if d.kind == .computed {
                if name == "config_directory" { return directory }
                return ComputedDefaults.value(name, config: self)
            }
            if name == "config_directory" { return directory }
            return d.defaultValue
        }
        return nil
    }

    /// The fully expanded value ("" for an unknown parameter).
    public func value(_ name: String) -> String {
        var expander = Expander(config: self)
        return expander.expandParameter(name)
    }

    /// Expands `$name` references in TEXT against this configuration.
    public func expand(_ text: String) -> String {
        var expander = Expander(config: self)
        return expander.expand(text)
    }

    /// Expands TEXT with VARIABLES (used literally) winning over parameters, as Postfix
    /// expands reply templates such as default_rbl_reply.
    public func expand(_ text: String, variables: [String: String]) -> String {
        var expander = Expander(config: self)
        expander.variables = variables
        return expander.expand(text)
    }

    /// The value as a list (comma and/or white-space separated).
    public func list(_ name: String) -> [String] { splitList(value(name)) }

    public func bool(_ name: String) -> Bool { parseBool(value(name)) ?? false }

    public func int(_ name: String) -> Int { Int(value(name)) ?? 0 }

    /// A time parameter in seconds.
    public func seconds(_ name: String) -> Int {
        let unit: Character
        if case .time(let u)? = ParameterRegistry.definition(name, services: serviceNames)?.kind { unit = u } else { unit = "s" }
        return parseTime(value(name), defaultUnit: unit) ?? 0
    }

    /// Where a parameter's value comes from, for error messages.
    public func origin(_ name: String) -> String {
        if overrides[name] != nil { return "-o \(name)" }
        if let s = settings[name] { return "\(path), line \(s.line)" }
        return "default"
    }

    /// Checks every parameter set in main.cf or with -o against its kind; the first bad
    /// one becomes an error naming the file, line, parameter and reason.
    public func validate() throws {
        for name in order + overrides.keys.sorted() {
            guard let d = ParameterRegistry.definition(name, services: serviceNames) else { continue }
            let v = value(name)
            switch d.kind {
            case .bool:
                if parseBool(v) == nil { throw ConfigError("\(origin(name)): bad boolean configuration: \(name) = \(v)") }
            case .int:
                if Int(v) == nil { throw ConfigError("\(origin(name)): bad numerical configuration: \(name) = \(v)") }
            case .time(let unit):
                if parseTime(v, defaultUnit: unit) == nil {
                    throw ConfigError("\(origin(name)): invalid time value or unit: \(name) = \(v)")
                }
            case .string, .computed:
                break
            }
        }
    }

    /// Parameters set in main.cf that no part of Postern uses and no other parameter
    /// refers to, as `name=value` (Postfix warns "unused parameter" about them).
    public func unusedParameters() -> [String] {
        let referenced = referencedNames()
        return order.filter { name in
            ParameterRegistry.definition(name, services: serviceNames) == nil && !referenced.contains(name)
        }.map { "\($0)=\(settings[$0]!.value)" }
    }

    func referencedNames() -> Set<String> {
        var names: Set<String> = []
        let values = settings.values.map(\.value) + Array(overrides.values)
        for v in values {
            var chars = Array(v.utf8)[...]
            while let dollar = chars.firstIndex(of: UInt8(ascii: "$")) {
                chars = chars[(dollar + 1)...]
                if let open = chars.first, open == UInt8(ascii: "{") || open == UInt8(ascii: "(") {
                    chars = chars.dropFirst()
                }
                let name = chars.prefix { Expander.isNameByte($0) }
                if !name.isEmpty { names.insert(String(decoding: name, as: UTF8.self)) }
                chars = chars.dropFirst(name.count)
            }
        }
        return names
    }
}

/// A logical line of main.cf or master.cf: its text with continuations joined by a space,
/// and the number of its first physical line.
public struct LogicalLine {
    public let text: String
    public let line: Int
}

/// Splits configuration text into logical lines: blank and `#` lines skipped, a line that
/// starts with white space continues the one before.
public func logicalLines(_ text: String) -> [LogicalLine] {
    var result: [LogicalLine] = []
    var current: String?
    var start = 0
    var number = 0
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
        number += 1
        var line = String(raw)
        if line.hasSuffix("\r") { line.removeLast() }
        let content = line.trimmed
        if content.isEmpty || content.hasPrefix("#") { continue }
        if let first = line.first, first == " " || first == "\t" {
            if current != nil {
                current! += " " + content
                continue
            }
        }
        if let c = current { result.append(LogicalLine(text: c, line: start)) }
        current = content
        start = number
    }
    if let c = current { result.append(LogicalLine(text: c, line: start)) }
    return result
}
