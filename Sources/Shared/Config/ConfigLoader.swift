// Loading main.cf and master.cf together, validated, as every command and the master do:
// service names from master.cf make service-specific parameters known, bad values and a
// bad maillog_file stop with file, line and reason.

public struct LoadedConfig {
    public let main: MainConfig
    public let master: MasterConfig

    /// Reads both files from DIRECTORY and checks them.
    public static func load(directory: String) throws -> LoadedConfig {
        let main = try MainConfig.load(directory: directory)
        let master = try MasterConfig.load(directory: directory, defaultProcessLimit: main.int("default_process_limit"))
        main.serviceNames = Set(master.entries.map(\.name))
        try main.validate()
        try checkMaillog(main)
        return LoadedConfig(main: main, master: master)
    }

    /// maillog_file must lie under one of maillog_file_prefixes, as in Postfix.
    public static func checkMaillog(_ config: MainConfig) throws {
        let file = config.value("maillog_file")
        guard !file.isEmpty else { return }
        let prefixes = config.list("maillog_file_prefixes")
        guard prefixes.contains(where: { file.hasPrefix($0) }) else {
            throw ConfigError("\(config.origin("maillog_file")): parameter maillog_file: value \"\(file)\" does not match any prefix in maillog_file_prefixes")
        }
    }
}
