// Errors from system calls and configuration, with the text Postfix-style messages need.
import Glibc

/// The text of an errno value, as strerror(3) gives it.
public func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// A failed system call: what was being done and the errno that came back.
public struct SystemError: Error, CustomStringConvertible {
    public let what: String
    public let code: Int32
    public init(_ what: String, code: Int32 = errno) {
        self.what = what
        self.code = code
    }
    public var description: String { "\(what): \(errnoText(code))" }
}

/// A configuration problem: the message names the file, line, parameter and reason.
public struct ConfigError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
