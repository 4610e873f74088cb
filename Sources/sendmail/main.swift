// sendmail(1): the Sendmail-compatible front door for local mail, as Postfix's. A message
// on standard input (-bm, the default) or an SMTP dialog on standard input and output
// (-bs) goes to postdrop and from there through pickup into the queue; -bp (and the name
// `mailq`) lists the queue through postqueue, -q flushes it, -bi (and `newaliases`)
// rebuilds the alias databases, -bd starts the mail system. Fatal errors exit with
// EX_TEMPFAIL (75), as Postfix's sendmail does, so that calling programs retry.
import Glibc
import Shared

Log.tag = "postfix/sendmail"
Log.toStderr = true
signal(SIGPIPE, SIG_IGN)

let options: SendmailOptions
switch SendmailOptions.parse(Array(CommandLine.arguments.dropFirst()), program: ThisProcess.name) {
case .success(let parsed): options = parsed
case .failure(let error):
    Log.emit(.error, error.message)
    Log.emit(.fatal, SendmailOptions.usage)
    exit(75)
}
let directory = MainConfig.locateDirectory(options.configDirectory)
let config: MainConfig
do {
    config = try MainConfig.load(directory: directory)
    try config.validate()
} catch {
    Log.emit(.fatal, "\(error)")
    exit(75)
}
Log.configure(syslogName: config.value("syslog_name"), program: "sendmail", hostname: config.value("myhostname"),
              maillog: config.value("maillog_file"))

/// Runs command NAME with ARGUMENTS (and MAIL_CONFIG for this configuration) in this
/// process's place.
func become(_ name: String, _ arguments: [String]) -> Never {
    let path = PostdropClient.program(name, config: config)
    setenv("MAIL_CONFIG", config.directory, 1)
    _ = Spawn.withCStringArray([path] + arguments) { execv(path, $0) }
    Log.emit(.fatal, "cannot run \(path): \(errnoText())")
    exit(75)
}

switch options.mode {
case .deliver:
    MessageSubmission(config: config, options: options, user: SubmittingUser.current()).run()
case .smtp:
    SMTPSubmission(config: config, user: SubmittingUser.current()).run()
case .listQueue:
    become("postqueue", ["-p"])
case .flush(let site):
    become("postqueue", site.map { ["-s", $0] } ?? ["-f"])
case .flushMessage(let queueID):
    become("postqueue", ["-i", queueID])
case .startDaemon:
    become("postern", ["start"])
case .newAliases:
    if let database = options.aliasDatabase {
        TableCommand.main(.postalias, program: "sendmail", arguments: ["-c", config.directory, database])
    }
    TableCommand.newaliases(program: "sendmail", arguments: ["-c", config.directory])
}
