// Choosing the configuration directory in a command that runs with privileges its
// caller lacks (postdrop and postqueue are installed set-group-ID postdrop): a caller
// must not point it at a configuration of their own making, so, as in Postfix
// (mail_conf.c), `-c` and MAIL_CONFIG name another directory only for root, for a
// process without extra privileges, or when the default main.cf lists that directory in
// alternate_config_directories or multi_instance_directories.
import Glibc

extension MainConfig {
    /// The configuration directory (see locateDirectory) after the check described in the
    /// file comment. Throws ConfigError naming the refused directory.
    public static func locatePrivilegedDirectory(_ flag: String?) throws -> String {
        let directory = locateDirectory(flag)
        let privileged = getuid() != geteuid() || getgid() != getegid()
        guard privileged && getuid() != 0 else { return directory }
        let standard = ParameterRegistry.all["config_directory"]!.defaultValue
        guard directory != standard else { return directory }
        let allowed = (try? MainConfig.load(directory: standard)).map {
            $0.list("alternate_config_directories") + $0.list("multi_instance_directories")
        } ?? []
        guard allowed.contains(directory) else {
            throw ConfigError("\(standard)/main.cf: parameter alternate_config_directories: "
                + "unauthorized configuration directory: \(directory)")
        }
        return directory
    }
}
