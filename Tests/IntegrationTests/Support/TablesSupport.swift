// Test support for the lookup-table interop tests: where the built postmap/postalias
// live, where Debian's Postfix and tinycdb tools are, and a scratch configuration
// directory both implementations can use (`-c DIR` with a main.cf).
import Foundation
import XCTest

enum TablesInterop {
    struct NotBuilt: Error {}

    /// The directory holding the built postmap (the test bundle sits beside it), or the
    /// package's build directories as a fallback.
    static let products: String? = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent().path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let candidates = [bundle, root + "/.build-tables/debug", root + "/.build/debug"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/postmap") }
    }()

    /// The built program NAME; fails the test when it was not built.
    static func ours(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard let products else {
            XCTFail("no built \(name) beside the test bundle; run swift build first", file: file, line: line)
            throw NotBuilt()
        }
        return products + "/" + name
    }

    /// Debian's program at PATH; skips the test when the package is not installed.
    static func debian(_ path: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("\(path) is not installed (scripts/install-deps --with-postfix installs it)")
        }
        return path
    }

    /// A fresh directory with a main.cf at compatibility level 3.6, as the checks use.
    static func makeConfig() -> String {
        let path = NSTemporaryDirectory() + "postern-tables-interop-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        write(path + "/main.cf", "compatibility_level = 3.6\n")
        return path
    }

    static func write(_ path: String, _ text: String) {
        try! Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    static func bytes(_ path: String) -> [UInt8]? {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) }
    }

    /// STDERR's lines with DIR replaced by `DIR`, sorted (Postfix may repeat a warning
    /// when it opens a table twice; the set of warnings is what must agree).
    static func warnings(_ stderr: String, dir: String) -> [String] {
        Array(Set(stderr.split(separator: "\n").map { $0.replacingOccurrences(of: dir, with: "DIR") })).sorted()
    }
}
