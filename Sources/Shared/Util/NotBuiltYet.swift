// The clear refusal of a program whose issue has not been built yet.
import Glibc

public enum NotBuiltYet {
    public static func exit(program: String) -> Never {
        Log.toStderr = true
        Log.tag = "postfix/" + program
        Log.fatal("\(program) is not built yet in this version of Postern")
    }
}
