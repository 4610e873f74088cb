// Formats the master's status reply as `postern status` prints it: one row per service,
// then one row per process.
import Shared

enum StatusReport {
    static func format(_ reply: AttributeList) -> String {
        var rows = [["SERVICE", "TYPE", "LISTEN", "MAXPROC", "STATE", "PROCS", "BUSY", "IDLE"]]
        let processes = reply.all("process").map { $0.split(separator: " ").map(String.init) }
        for service in reply.all("service") {
            let f = service.split(separator: " ").map(String.init)
            guard f.count >= 6 else { continue }
            let mine = processes.filter { $0.count >= 3 && $0[1] == f[5] }
            let busy = mine.filter { $0[2] == "busy" }.count
            let idle = mine.filter { $0[2] == "idle" }.count
            rows.append([f[0], f[1], f[2], f[3] == "0" ? "unlimited" : f[3], f[4], String(mine.count), String(busy), String(idle)])
        }
        var out = table(rows)
        if !processes.isEmpty {
            var prows = [["PID", "SERVICE", "STATE", "CLIENTS"]]
            for p in processes where p.count >= 4 { prows.append([p[0], p[1], p[2], p[3]]) }
            out += "\n" + table(prows)
        }
        return out
    }

    static func table(_ rows: [[String]]) -> String {
        let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
