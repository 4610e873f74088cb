// The work of postconf: printing parameters as `name = value` (main.cf's raw text, or
// defaults, or expanded), editing main.cf in place while keeping its comments and order,
// and printing master.cf entries in Postfix's column layout.
import Glibc
import Shared

struct Postconf {
    let directory: String
    let explicitDirectory: Bool

    func loadMain(required: Bool = true) -> MainConfig {
        do {
            let config = try MainConfig.load(directory: directory)
            if let master = try? MasterConfig.load(directory: directory, defaultProcessLimit: config.int("default_process_limit")) {
                config.serviceNames = Set(master.entries.map(\.name))
            }
            if explicitDirectory && config.settings["config_directory"] == nil {
                config.setOverride("config_directory", directory)
            }
            return config
        } catch {
            if !required { return MainConfig(directory: directory) }
            Log.fatal("\(error)")
        }
    }

    /// Prints parameters; returns the exit status.
    func show(_ names: [String], defaults: Bool, nonDefault: Bool, valueOnly: Bool, expand: Bool) -> Int32 {
        let config = defaults ? MainConfig(directory: directory) : loadMain()
        if !defaults { warnUnused(config) }
        // Like Postfix, parameters nothing uses are warned about, not listed.
        let unused = Set(config.unusedParameters().map { String($0.prefix { $0 != "=" }) })
        var selected: [String]
        if !names.isEmpty {
            selected = []
            for name in names {
                if defaults ? ParameterRegistry.definition(name) != nil : (config.raw(name) != nil && !unused.contains(name)) {
                    selected.append(name)
                } else {
                    Log.warning("\(name): unknown parameter")
                }
            }
        } else if nonDefault {
            selected = (config.order + config.overrides.keys.filter { config.settings[$0] == nil }).filter { !unused.contains($0) }.sorted()
        } else {
            selected = Array(Set(ParameterRegistry.sortedNames + config.order.filter { !unused.contains($0) })).sorted()
        }
        var out = ""
        for name in selected {
            let value = expand ? config.value(name) : (config.raw(name) ?? "")
            out += valueOnly ? value + "\n" : (value.isEmpty ? name + " =\n" : name + " = " + value + "\n")
        }
        try? FileIO.writeAll(1, out)
        return 0
    }

    func warnUnused(_ config: MainConfig) {
        for p in config.unusedParameters() { Log.warning("\(config.path): unused parameter: \(p)") }
    }

    /// `-e name=value…`: replaces each parameter's logical line in place, or appends it.
    func edit(_ assignments: [String]) {
        var lines = readMainLines()
        for assignment in assignments {
            guard let eq = assignment.firstIndex(of: "=") else { Log.fatal("-e \(assignment): missing '='") }
            let name = String(assignment[..<eq]).trimmed
            let value = String(assignment[assignment.index(after: eq)...]).trimmed
            guard !name.isEmpty, !name.contains(" ") else { Log.fatal("-e \(assignment): bad parameter name") }
            let newLine = name + " = " + value
            if let range = MainCFEditor.logicalRange(of: name, in: lines) {
                lines.replaceSubrange(range, with: [newLine])
            } else {
                lines.append(newLine)
            }
        }
        writeMainLines(lines)
    }

    /// `-X name…` removes parameters, `-# name…` comments them out.
    func remove(_ names: [String], commentOut: Bool) {
        var lines = readMainLines()
        for name in names {
            guard let range = MainCFEditor.logicalRange(of: name, in: lines) else { continue }
            if commentOut {
                lines.replaceSubrange(range, with: lines[range].map { "#" + $0 })
            } else {
                lines.removeSubrange(range)
            }
        }
        writeMainLines(lines)
    }

    func readMainLines() -> [String] {
        let path = directory + "/main.cf"
        guard let text = try? FileIO.readText(path) else {
            if FileIO.exists(path) { Log.fatal("open \(path): \(errnoText())") }
            return []
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    func writeMainLines(_ lines: [String]) {
        let path = directory + "/main.cf"
        let text = lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
        do {
            try FileIO.writeAtomically(path, Array(text.utf8), mode: 0o644)
        } catch {
            Log.fatal("write \(path): \(error)")
        }
    }

    /// `-M`: master.cf entries, optionally only `service` or `service/type`.
    func showServices(_ filters: [String]) {
        let config = loadMain(required: false)
        let master: MasterConfig
        do {
            master = try MasterConfig.load(directory: directory, defaultProcessLimit: config.int("default_process_limit"))
        } catch {
            Log.fatal("\(error)")
        }
        var out = ""
        for entry in master.entries {
            if !filters.isEmpty {
                let match = filters.contains { f in
                    let parts = f.split(separator: "/", maxSplits: 1).map(String.init)
                    return parts[0] == entry.name && (parts.count == 1 || parts[1] == entry.type.rawValue)
                }
                if !match { continue }
            }
            out += MasterCFFormat.line(entry) + "\n"
        }
        try? FileIO.writeAll(1, out)
    }
}

/// Finding a parameter's logical line (with its continuation lines) in main.cf's lines.
enum MainCFEditor {
    static func logicalRange(of name: String, in lines: [String]) -> Range<Int>? {
        var found: Range<Int>?
        var i = 0
        while i < lines.count {
            let line = lines[i]
            let startsLogical = !(line.first == " " || line.first == "\t") && !line.trimmed.hasPrefix("#") && !line.trimmed.isEmpty
            if startsLogical, let eq = line.firstIndex(of: "="), String(line[..<eq]).trimmed == name {
                var end = i + 1
                while end < lines.count, let f = lines[end].first, f == " " || f == "\t", !lines[end].trimmed.isEmpty {
                    end += 1
                }
                found = i..<end
                i = end
                continue
            }
            i += 1
        }
        return found
    }
}

/// master.cf lines in `postconf -M`'s layout: `%-10s %-5s %-7s %-7s %-7s %-7s %-7s command`.
enum MasterCFFormat {
    static func line(_ entry: ServiceEntry) -> String {
        let widths = [10, 5, 7, 7, 7, 7, 7]
        var out = ""
        for (i, column) in entry.columns.enumerated() {
            out += column + String(repeating: " ", count: max(1, widths[i] - column.count + 1))
        }
        let args = entry.arguments.map { $0.contains(" ") || $0.isEmpty ? "{\($0)}" : $0 }
        return out + ([entry.command] + args).joined(separator: " ")
    }
}
