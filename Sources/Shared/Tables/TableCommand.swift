// The command-line tool behind postmap(1) and postalias(1) (and newaliases): options,
// building tables, `-q key`, `-q -`, `-s`. Both programs are the same tool with two
// source formats, as in Postfix. Exit status as Postfix: a query exits 0 when something
// was found and 1 when not; any failure is fatal (exit 1) with a message on stderr.
import Glibc

/// postmap and postalias: one tool, two source formats.
public struct TableCommand {
    /// Which of the two tools this is.
    public enum Flavour {
        case postmap
        case postalias
    }

    let flavour: Flavour
    let program: String
    var flags = TableFlags.standard
    var options = TableBuilder.Options()
    var configDirectory: String?
    var query: String?
    var sequence = false
    var unsupported: [String] = []

    var usage: String {
        switch flavour {
        case .postmap:
            return "usage: \(program) [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [map_type:]file..."
        case .postalias:
            return "usage: \(program) [-Nfinoprsuvw] [-c config_dir] [-d key] [-q key] [map_type:]file..."
        }
    }

    /// Runs the tool named PROGRAM with ARGUMENTS (argv without argv[0]) and exits.
    public static func main(_ flavour: Flavour, program: String, arguments: [String]) -> Never {
        var command = TableCommand(flavour: flavour, program: program)
        Log.tag = "postfix/" + program
        Log.toStderr = true
        umask(0o022)
        let spec = flavour == .postmap ? "bc:d:fFhimnNopq:rsuUvw" : "Nc:d:finopq:rsuvw"
        let getopt = Getopt(arguments, spec: spec)
        for item in getopt.items { command.apply(item) }
        let config = command.loadConfiguration()
        if !command.unsupported.isEmpty {
            Log.fatal("option \(command.unsupported.joined(separator: ", ")) is not supported by this version")
        }
        var specs: [TableSpec] = []
        let defaultType = config.value("default_database_type")
        for operand in getopt.operands {
            do {
                specs.append(try TableSpec(parsing: operand, defaultType: defaultType))
            } catch {
                Log.fatal(error.description)
            }
        }
        if specs.isEmpty { Log.fatal(command.usage) }
        if let query = command.query {
            exit(query == "-" ? command.queryStandardInput(specs) : command.queryOne(query, specs))
        }
        if command.sequence { command.listEntries(specs[0]) }
        for spec in specs { command.build(spec) }
        exit(0)
    }

    /// Rebuilds every table `alias_database` lists (newaliases, `sendmail -bi`).
    public static func newaliases(program: String, arguments: [String]) -> Never {
        var command = TableCommand(flavour: .postalias, program: program)
        Log.tag = "postfix/" + program
        Log.toStderr = true
        umask(0o022)
        for item in Getopt(arguments, spec: "c:C:ov").items {
            switch item {
            case .flag("c", let dir?): command.configDirectory = dir
            case .flag("C", let path?): command.configDirectory = FileIO.isDirectory(path) ? path : directoryName(path)
            case .flag("o", _): command.options.asSourceOwner = false
            case .flag: break
            case .bad, .missingArgument: Log.fatal("usage: \(program) [-c config_dir]")
            }
        }
        let config = command.loadConfiguration()
        let defaultType = config.value("default_database_type")
        for text in config.list("alias_database") {
            do {
                command.build(try TableSpec(parsing: text, defaultType: defaultType))
            } catch {
                Log.fatal(error.description)
            }
        }
        exit(0)
    }

    mutating func apply(_ item: Getopt.Item) {
        switch item {
        case .bad(let letter):
            try? FileIO.writeAll(2, "\(program): invalid option -- '\(letter)'\n")
            Log.fatal(usage)
        case .missingArgument(let letter):
            try? FileIO.writeAll(2, "\(program): option requires an argument -- '\(letter)'\n")
            Log.fatal(usage)
        case .flag(let letter, let argument):
            switch letter {
            case "c": configDirectory = argument
            case "f": flags.foldCase = false
            case "N": flags.nul = .with
            case "n": flags.nul = .without
            case "o": options.asSourceOwner = false
            case "p": options.sourcePermissions = false
            case "r": options.duplicates = .replace
            case "w": options.duplicates = .ignore
            case "u": flags.unicodeFold = false
            case "q":
                if sequence || query != nil { Log.fatal("specify only one of -s -q or -d") }
                query = argument
            case "s":
                if query != nil { Log.fatal("specify only one of -s or -q or -d") }
                sequence = true
            case "d", "i", "b", "h", "m", "F": unsupported.append("-\(letter)")
            default: break
            }
        }
    }

    /// Reads main.cf from `-c`, `$MAIL_CONFIG` or the default directory; a missing or
    /// broken main.cf is fatal, as in Postfix.
    mutating func loadConfiguration() -> MainConfig {
        let config: MainConfig
        do {
            config = try MainConfig.load(directory: MainConfig.locateDirectory(configDirectory))
        } catch {
            Log.fatal("\(error)")
        }
        if !config.bool("smtputf8_enable") { flags.unicodeFold = false }
        return config
    }

    // MARK: the work

    func build(_ spec: TableSpec) {
        let format: TableBuilder.Format = flavour == .postalias ? .aliases : .keyValue
        do {
            try TableBuilder.build(spec, format: format, flags: flags, options: options)
        } catch {
            Log.fatal(error.description)
        }
    }

    func open(_ spec: TableSpec) -> LookupTable {
        do {
            return try TableRegistry.openTable(spec, flags: flags)
        } catch {
            Log.fatal(error.description)
        }
    }

    /// `-q KEY`: the first table that has KEY prints its value. Returns the exit status.
    func queryOne(_ key: String, _ specs: [TableSpec]) -> Int32 {
        for spec in specs {
            let table = open(spec)
            do {
                if let value = try table.lookup(key) {
                    warnIfEmpty(value, key: key, spec: spec.description)
                    try? FileIO.writeAll(1, value + "\n")
                    return 0
                }
            } catch {
                Log.fatal(error.description)
            }
        }
        return 1
    }

    /// `-q -`: every line of standard input is a key; prints `key<TAB>value` (postalias:
    /// `key:<TAB>value`) for the keys found. Returns 0 when any was found.
    func queryStandardInput(_ specs: [TableSpec]) -> Int32 {
        var tables: [LookupTable?] = Array(repeating: nil, count: specs.count)
        var output = OutputBuffer()
        var found = false
        let separator = flavour == .postalias ? ":\t" : "\t"
        var input = LineReader(descriptor: 0)
        while let key = input.next() {
            for index in specs.indices {
                if tables[index] == nil { tables[index] = open(specs[index]) }
                let table = tables[index]!
                do {
                    if let value = try table.lookup(key) {
                        warnIfEmpty(value, key: key, spec: "\(table.type):\(table.name)")
                        output.append(key)
                        output.append(separator)
                        output.append(value)
                        output.append("\n")
                        found = true
                        break
                    }
                } catch {
                    output.flush()
                    Log.fatal(error.description)
                }
            }
        }
        output.flush()
        return found ? 0 : 1
    }

    /// `-s`: every entry of the first table.
    func listEntries(_ spec: TableSpec) -> Never {
        if spec.type == "proxy" { Log.fatal("can't sequence maps via the proxy service") }
        let table = open(spec)
        var output = OutputBuffer()
        let separator = flavour == .postalias ? ":\t" : "\t"
        do {
            for (key, value) in try table.entries() {
                output.append(key)
                output.append(separator)
                output.append(value)
                output.append("\n")
            }
        } catch {
            Log.fatal(error.description)
        }
        output.flush()
        exit(0)
    }

    func warnIfEmpty(_ value: String, key: String, spec: String) {
        guard value.isEmpty else { return }
        Log.warning("table \(spec): key \(key): empty string result is not allowed")
        Log.warning("table \(spec) should return NO RESULT in case of NOT FOUND")
    }

    static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// Standard output collected into large writes.
struct OutputBuffer {
    var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(1 << 16)
    }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        try? FileIO.writeAll(1, bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Lines from a descriptor, without their newlines (the last may lack one).
struct LineReader {
    let descriptor: Int32
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var start = 0
    var atEnd = false

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    mutating func next() -> String? {
        while true {
            let line: String? = buffer.withUnsafeBufferPointer { bytes in
                guard let base = bytes.baseAddress.map({ UnsafeRawPointer($0 + start) }),
                    let newline = memchr(base, 0x0a, bytes.count - start)
                else { return nil }
                let length = UnsafeRawPointer(newline) - base
                start += length + 1
                return String(decoding: UnsafeRawBufferPointer(start: base, count: length), as: UTF8.self)
            }
            if let line { return line }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let n = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                atEnd = true
            } else {
                buffer.append(contentsOf: chunk[..<n])
            }
        }
    }
}
