// Starting programs the only safe way in a Swift process: posix_spawn + exec, never fork.
// The child gets exactly the descriptors asked for, a clean signal mask and dispositions.
import CSupport
import Glibc

public enum Spawn {
    /// Starts ARGV[0] with ARGV and ENVIRONMENT. DESCRIPTORS become FIRSTTARGET,
    /// FIRSTTARGET+1, …; STDIO gives fds 0–2 (-1 = inherit ours); everything else is
    /// closed. Returns the child's pid.
    public static func run(
        _ argv: [String], environment: [String], descriptors: [Int32] = [], firstTarget: Int32 = 3,
        stdio: [Int32] = [-1, -1, -1], newSession: Bool = false
    ) throws -> pid_t {
        var pid: pid_t = 0
        let rc = withCStringArray(argv) { a in
            withCStringArray(environment) { e in
                descriptors.withUnsafeBufferPointer { fds in
                    stdio.withUnsafeBufferPointer { std in
                        postern_spawn(argv[0], a, e, fds.baseAddress, Int32(fds.count), firstTarget, std.baseAddress, newSession ? 1 : 0, &pid)
                    }
                }
            }
        }
        guard rc == 0 else { throw SystemError("cannot run \(argv[0])", code: rc) }
        return pid
    }

    /// Calls BODY with a NULL-terminated C array of STRINGS.
    public static func withCStringArray<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// Decodes a wait(2) status: the exit code, or the signal that ended the process.
    public static func describe(status: Int32) -> (exitCode: Int32, signal: Int32) {
        (status & 0x7f == 0 ? (status >> 8) & 0xff : 0, status & 0x7f)
    }
}
