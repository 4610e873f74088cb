// postalias(1): builds alias databases from aliases(5) files (adding the `@` -> `@`
// record) and queries them. Invoked as `newaliases`, it rebuilds every table that
// `alias_database` lists. The work is done by Shared's TableCommand, shared with postmap.
import Shared

if ThisProcess.name == "newaliases" {
    TableCommand.newaliases(program: ThisProcess.name, arguments: Array(ThisProcess.arguments.dropFirst()))
}
TableCommand.main(.postalias, program: ThisProcess.name, arguments: Array(ThisProcess.arguments.dropFirst()))
