// Everything smtpd reads from main.cf (with the service's -o overrides), read once when
// the process starts so the per-session code never expands parameters.
import Shared

struct SMTPDSettings {
    var myhostname = "localhost"
    var banner = "localhost ESMTP Postern"
    var mailName = "Postern"
    var messageSizeLimit = 10_240_000
    var recipientLimit = 1000
    var recipientOverlimit = 1000
    var heloRequired = false
    var disableVrfy = false
    var strictRFC821 = false
    var smtputf8 = true
    var softErrorLimit = 10
    var hardErrorLimit = 20
    var junkCommandLimit = 100
    var errorSleepSeconds = 1
    var timeoutSeconds = 300
    var lineLengthLimit = 2048
    var delayReject = true
    var discardEHLOKeywords: Set<String> = []
    var forbiddenCommands: Set<String> = ["CONNECT", "GET", "POST"]
    var queueDirectory = "."
    var longQueueIDs = false
    var softBounce = false
    var headerSizeLimit = 102_400
    var hopcountLimit = 50

    init() {}

    init(_ config: MainConfig) {
        myhostname = config.value("myhostname")
        banner = config.value("smtpd_banner")
        mailName = config.value("mail_name")
        messageSizeLimit = config.int("message_size_limit")
        recipientLimit = config.int("smtpd_recipient_limit")
        recipientOverlimit = config.int("smtpd_recipient_overshoot_limit")
        heloRequired = config.bool("smtpd_helo_required")
        disableVrfy = config.bool("disable_vrfy_command")
        strictRFC821 = config.bool("strict_rfc821_envelopes")
        smtputf8 = config.bool("smtputf8_enable")
        softErrorLimit = config.int("smtpd_soft_error_limit")
        hardErrorLimit = config.int("smtpd_hard_error_limit")
        junkCommandLimit = config.int("smtpd_junk_command_limit")
        errorSleepSeconds = config.seconds("smtpd_error_sleep_time")
        timeoutSeconds = config.seconds("smtpd_timeout")
        lineLengthLimit = max(512, config.int("line_length_limit"))
        delayReject = config.bool("smtpd_delay_reject")
        discardEHLOKeywords = Set(config.list("smtpd_discard_ehlo_keywords").map { $0.uppercased() })
        forbiddenCommands = Set(config.list("smtpd_forbidden_commands").filter { !$0.contains(":") }.map { $0.uppercased() })
        queueDirectory = config.value("queue_directory")
        longQueueIDs = config.bool("enable_long_queue_ids")
        softBounce = config.bool("soft_bounce")
        headerSizeLimit = config.int("header_size_limit")
        hopcountLimit = config.int("hopcount_limit")
    }
}
