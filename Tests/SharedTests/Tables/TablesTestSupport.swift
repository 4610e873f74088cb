// Helpers for the lookup-table tests: a scratch directory, files written into it, and the
// warnings a piece of code logs (captured from Log's stderr output).
import Foundation
import XCTest

@testable import Shared

/// A fresh directory under /tmp, removed by `removeTablesScratch`.
func makeTablesScratch() -> String {
    let path = NSTemporaryDirectory() + "postern-tables-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeTablesScratch(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Writes TEXT to PATH.
func writeTableFile(_ path: String, _ text: String) {
    try! Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// Runs BODY and returns its result with the warnings it logged (without the
/// `program: warning: ` prefix), in order.
func capturingTableWarnings<T>(_ body: () throws -> T) rethrows -> (T, [String]) {
    let path = NSTemporaryDirectory() + "postern-warnings-" + UUID().uuidString
    let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let saved = dup(2)
    let savedTag = Log.tag
    let savedStderr = Log.toStderr
    Log.tag = "postfix/test"
    Log.toStderr = true
    dup2(file, 2)
    defer {
        dup2(saved, 2)
        close(saved)
        close(file)
        Log.tag = savedTag
        Log.toStderr = savedStderr
        try? FileManager.default.removeItem(atPath: path)
    }
    let result = try body()
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    let warnings = text.split(separator: "\n").map { line -> String in
        let prefix = "test: warning: "
        return line.hasPrefix(prefix) ? String(line.dropFirst(prefix.count)) : String(line)
    }
    return (result, warnings)
}

/// Opens SPEC outside the registry's cache, failing the test on an error.
func openTestTable(_ spec: String, flags: TableFlags = .standard, file: StaticString = #filePath, line: UInt = #line)
    -> LookupTable?
{
    do {
        return try TableRegistry.openTable(TableSpec(parsing: spec), flags: flags)
    } catch {
        XCTFail("open \(spec): \(error)", file: file, line: line)
        return nil
    }
}
