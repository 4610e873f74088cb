// A getopt(3) that Postfix commands and daemons share: single-letter flags, clustered
// (`-nv`), with arguments either attached (`-cDIR`) or in the next word, and GNU's
// optional arguments (`q::`), which are only ever attached (sendmail's `-q`, `-qRsite`).

public struct Getopt {
    public enum Item: Equatable {
        case flag(Character, String?)
        case bad(Character)
        case missingArgument(Character)
    }

    /// The options found, in order, and the words after them.
    public private(set) var items: [Item] = []
    public private(set) var operands: [String] = []

    /// SPEC lists the letters, a `:` after a letter that takes an argument, `::` after one
    /// whose argument is optional (as glibc's getopt(3)).
    public init(_ args: [String], spec: String) {
        var takesArgument: Set<Character> = []
        var optionalArgument: Set<Character> = []
        var known: Set<Character> = []
        var previous: Character?
        var letter: Character?
        for ch in spec {
            if ch == ":", let l = letter {
                if previous == ":" { optionalArgument.insert(l) } else { takesArgument.insert(l) }
            } else {
                known.insert(ch)
                letter = ch
            }
            previous = ch
        }
        takesArgument.subtract(optionalArgument)
        var index = 0
        while index < args.count {
            let word = args[index]
            if word == "--" {
                index += 1
                break
            }
            guard word.hasPrefix("-"), word.count > 1 else { break }
            var letters = Substring(word.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                if !known.contains(letter) {
                    items.append(.bad(letter))
                } else if optionalArgument.contains(letter) {
                    items.append(.flag(letter, letters.isEmpty ? nil : String(letters)))
                    letters = ""
                } else if takesArgument.contains(letter) {
                    if !letters.isEmpty {
                        items.append(.flag(letter, String(letters)))
                    } else if index + 1 < args.count {
                        index += 1
                        items.append(.flag(letter, args[index]))
                    } else {
                        items.append(.missingArgument(letter))
                    }
                    letters = ""
                } else {
                    items.append(.flag(letter, nil))
                }
            }
            index += 1
        }
        operands = Array(args[min(index, args.count)...])
    }
}
