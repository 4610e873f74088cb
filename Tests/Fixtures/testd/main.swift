// testd: a small single-client service for the master's tests. It greets each client
// with `pid=P gen=G served=N fds=LIST`, then answers line commands: `echo TEXT`, `crash`
// (abort), `quit`. With `-o testd_startup=fail` it exits 1 before serving anyone.
import Glibc
import Shared

let runtime = ServiceRuntime(program: "testd")
if runtime.config.value("testd_startup") == "fail" { exit(1) }
var served = 0

func openDescriptors() -> String {
    FileIO.list("/proc/self/fd").compactMap(Int.init).sorted().map(String.init).joined(separator: ",")
}

SingleServer.run(runtime) { fd in
    let stream = BufferedStream(descriptor: fd, timeoutMs: 30_000)
    stream.write("pid=\(getpid()) gen=\(ThisProcess.environment("GENERATION") ?? "?") served=\(served) fds=\(openDescriptors())\n")
    try? stream.flush()
    served += 1
    while let (line, _) = (try? stream.readLine()) ?? nil {
        let text = String(decoding: line, as: UTF8.self)
        if text == "quit" { break }
        if text == "crash" { abort() }
        stream.write(text + "\n")
        try? stream.flush()
    }
}
