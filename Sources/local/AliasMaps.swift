// alias_maps as local(8) searches them (alias.c): the tables in order, the first that
// has the name answers, and the owner of that table's file decides whose rights its
// `|command` and `/file` destinations get (a root-owned table: default_privs). A table
// that cannot be read is an error, never "no alias".
import Glibc
import Shared

/// An alias found in alias_maps.
struct AliasEntryFound: Equatable {
    /// The stored value (`user, |command, /file, :include:/path`).
    var value: String
    /// The uid owning the table's file (0 for tables without a file).
    var owner: uid_t
    /// The table's `type:name`, for messages.
    var table: String
}

/// The alias_maps tables.
final class AliasMaps {
    let tables: TableList

    /// Opens SPECS (the alias_maps value) with local(8)'s flags: no `$1` substitution.
    init(_ specs: String) throws(TableError) {
        var flags = TableFlags.standard
        flags.regexSubstitution = false
        tables = try TableRegistry.openList(specs, flags: flags)
    }

    /// The entry for NAME (already lower case), nil when no table has one; throws when
    /// a table cannot be read.
    func lookup(_ name: String) throws(TableError) -> AliasEntryFound? {
        for table in tables.tables {
            guard let value = try table.lookup(name) else { continue }
            var owner: uid_t = 0
            if let file = table.files.first {
                var st = stat()
                if stat(file, &st) == 0 { owner = st.st_uid }
            }
            return AliasEntryFound(value: value, owner: owner, table: table.spec.description)
        }
        return nil
    }
}
