// postmap(1): builds cdb: (and hash:/btree:) tables from their source files, and queries
// or lists any lookup table (`-q key`, `-q -`, `-s`), with Postfix's options and exit
// status. The work is done by Shared's TableCommand, which postalias shares.
import Shared

TableCommand.main(.postmap, program: ThisProcess.name, arguments: Array(ThisProcess.arguments.dropFirst()))
