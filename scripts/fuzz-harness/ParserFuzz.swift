// A libFuzzer entry point for the parsers that read untrusted bytes: SMTP paths and
// replies, xtext and the attribute protocol, queue files, main.cf and master.cf text.
// Built and run by scripts/fuzz (not part of the package build); it must never trap.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParsers(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    _ = SMTPPath.parse(text, strict: false)
    _ = SMTPPath.parse(text, strict: true)
    _ = SMTPReply(parsing: text)
    _ = Xtext.decode(text)
    _ = AttributeList.decode(lines: bytes.split(separator: 10).map(Array.init), xtext: true)
    _ = try? QueueFile.parse(bytes)
    _ = splitList(text)
    _ = logicalLines(text)
    _ = try? MasterConfig.parse(text, path: "fuzz", defaultProcessLimit: 100)
    let config = MainConfig(directory: "/nonexistent")
    if (try? config.parse(text)) != nil { _ = config.expand(text) }
    return 0
}
