// Dates in mail headers without Foundation, as Postfix writes them (mail_date.c): the
// Received:/Date: form `Wed, 25 Nov 2026 11:40:43 +0000 (UTC)` in local time, the
// UTC `YYYYMMDDHHMMSS` stamp of a generated Message-Id, and asctime(3)'s form that
// postqueue and postcat show.
import Glibc

/// Header date formats.
public enum MailDate {
    /// SECONDS since the epoch in local time, `%a, %e %b %Y %H:%M:%S +hhmm (%Z)`. The day
    /// of the month is space-padded (`Thu,  5 Nov …`) as Postfix's `%e` gives it; the
    /// offset is printed as Postfix prints it (`%+03d%02d` of hours and minutes).
    public static func rfc2822(_ seconds: Int) -> String {
        var when = time_t(seconds)
        var local = tm()
        localtime_r(&when, &local)
        let offsetMinutes = local.tm_gmtoff / 60
        var text = format("%a, %e %b %Y %H:%M:%S ", &local)
        let hours = offsetMinutes / 60
        let minutes = abs(offsetMinutes) % 60
        text += (hours < 0 ? "-" : "+") + twoDigits(abs(hours)) + twoDigits(minutes)
        return text + format(" (%Z)", &local)
    }

    /// SECONDS since the epoch in UTC as `YYYYMMDDHHMMSS` (a generated Message-Id's stamp).
    public static func compactUTC(_ seconds: Int) -> String {
        var when = time_t(seconds)
        var utc = tm()
        gmtime_r(&when, &utc)
        return format("%Y%m%d%H%M%S", &utc)
    }

    /// SECONDS since the epoch in local time as asctime(3) writes it, without its line
    /// feed: `Wed Nov 25 11:41:52 2026`, the day of the month space-padded.
    public static func asctime(_ seconds: Int) -> String {
        var when = time_t(seconds)
        var local = tm()
        localtime_r(&when, &local)
        return format("%a %b %e %H:%M:%S %Y", &local)
    }

    static func twoDigits(_ n: Int) -> String {
        n < 10 ? "0" + String(n) : String(n)
    }

    static func format(_ pattern: String, _ parts: inout tm) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 128) { buffer in
            let n = strftime(buffer.baseAddress, buffer.count, pattern, &parts)
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: n), as: UTF8.self)
        }
    }
}
