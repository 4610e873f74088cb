// The attribute framing every Postern process speaks: `name=value` lines ended by an
// empty line, as in Postfix's policy and anvil protocols. Internal services encode values
// as xtext (RFC 3461) so they may hold any byte; policy and anvil use plain values.

public struct AttributeList: Equatable, CustomStringConvertible {
    public var items: [(name: String, value: String)] = []

    public init(_ items: [(String, String)] = []) {
        self.items = items.map { (name: $0.0, value: $0.1) }
    }

    public subscript(_ name: String) -> String? {
        items.first { $0.name == name }?.value
    }

    /// Every value of NAME, in order (a request may repeat an attribute).
    public func all(_ name: String) -> [String] { items.filter { $0.name == name }.map(\.value) }

    public mutating func append(_ name: String, _ value: String) { items.append((name: name, value: value)) }

    public static func == (a: AttributeList, b: AttributeList) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public var description: String { items.map { "\($0.name)=\($0.value)" }.joined(separator: ", ") }

    /// The wire form: one line per attribute and an empty line.
    public func encoded(xtext: Bool) -> String {
        var out = ""
        for (name, value) in items {
            out += name + "=" + (xtext ? Xtext.encode(value) : value) + "\n"
        }
        return out + "\n"
    }

    /// Parses the lines of one request (without the empty line). Lines without `=` are
    /// reported as a ConfigError-free nil.
    public static func decode(lines: [[UInt8]], xtext: Bool) -> AttributeList? {
        var list = AttributeList()
        for line in lines {
            guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let name = String(decoding: line[..<eq], as: UTF8.self)
            let raw = String(decoding: line[(eq + 1)...], as: UTF8.self)
            guard let value = xtext ? Xtext.decode(raw) : raw else { return nil }
            list.append(name, value)
        }
        return list
    }
}

extension BufferedStream {
    /// Reads one attribute request; nil at end of stream. Throws on a malformed line.
    public func readAttributes(xtext: Bool, lineLimit: Int = 65536) throws -> AttributeList? {
        var lines: [[UInt8]] = []
        while true {
            guard let (line, truncated) = try readLine(limit: lineLimit) else {
                if lines.isEmpty { return nil }
                throw StreamError.closed
            }
            if truncated { throw StreamError.lineTooLong }
            if line.isEmpty { break }
            lines.append(line)
        }
        guard let list = AttributeList.decode(lines: lines, xtext: xtext) else { throw StreamError.failed(0) }
        return list
    }

    public func writeAttributes(_ list: AttributeList, xtext: Bool) {
        write(list.encoded(xtext: xtext))
    }
}

/// xtext (RFC 3461 §4): bytes outside `!`..`~`, and `+` and `=`, become `+XX`.
public enum Xtext {
    static let hex = Array("0123456789ABCDEF".utf8)

    public static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        for b in text.utf8 {
            if b < 33 || b > 126 || b == UInt8(ascii: "+") || b == UInt8(ascii: "=") {
                out.append(UInt8(ascii: "+"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "+") {
                guard i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 48...57: return b - 48
        case 65...70: return b - 55
        case 97...102: return b - 87
        default: return nil
        }
    }
}
