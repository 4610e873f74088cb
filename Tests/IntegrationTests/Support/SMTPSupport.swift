// Test support for SMTP: a small client that sends commands and reads (multi-line)
// replies over a LineClient, and an instance with smtpd on a free port.
import Foundation
import XCTest

final class SMTPTestClient {
    let connection: LineClient

    init?(port: UInt16) {
        guard let c = LineClient(port: port) else { return nil }
        connection = c
    }

    /// The next reply: its code and its lines' texts (after `CODE-` / `CODE `).
    func reply() -> (code: Int, lines: [String])? {
        var lines: [String] = []
        while let line = connection.readLine() {
            guard line.count >= 3, let code = Int(line.prefix(3)) else { return nil }
            lines.append(String(line.dropFirst(4)))
            if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " " { return (code, lines) }
        }
        return nil
    }

    /// Sends LINE (CRLF added) and returns the reply as `CODE text` of its last line.
    @discardableResult
    func command(_ line: String) -> String {
        connection.send(line + "\r\n")
        guard let r = reply() else { return "closed" }
        return "\(r.code) \(r.lines.last ?? "")"
    }

    func send(_ raw: String) { connection.send(raw) }
}

extension TestInstance {
    /// An instance whose master.cf runs smtpd on a free port (and, with DELIVERY, the
    /// queue manager and local delivery too).
    static func smtp(main: [String] = [], delivery: Bool = false) throws -> (TestInstance, UInt16) {
        let port = freePort()
        var master = "127.0.0.1:\(port) inet n - n - - smtpd\n"
        if delivery {
            master += "qmgr unix n - n 300 1 qmgr\nlocal unix - n n - - local\n"
        }
        let base = [
            "mydomain = example.test", "myorigin = $mydomain", "mydestination = $myhostname, $mydomain, localhost",
            "mynetworks = 10.9.9.9/32", "alias_maps =", "home_mailbox = Maildir/", "smtpd_error_sleep_time = 0",
        ]
        let inst = try TestInstance(masterCF: master, main: base + main)
        inst.start()
        return (inst, port)
    }

    /// The complete queue files in QUEUE (their names are queue IDs).
    func queueFiles(_ queue: String = "incoming") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/" + queue)) ?? []).filter { !$0.contains(".") }.sorted()
    }
}
