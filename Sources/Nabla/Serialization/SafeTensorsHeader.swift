/// The JSON header of a safetensors file, parsed as strictly as the reference implementation
/// (Hugging Face's `safetensors` crate, through `serde_json`) parses it: exact non-negative
/// integers, no duplicate names, known dtypes only, nesting at most 128 deep.
///
/// A small parser of its own rather than `JSONSerialization`, whose `NSNumber`s wrap
/// `18446744073709551618` to `2` and truncate `2.5` to `2`, and which keeps one of two duplicate
/// keys without a word.
struct SafeTensorsHeader {
    struct TensorInfo {
        var name: String
        var dtype: SafeTensors.DType
        var shape: [Int]
        var begin: Int, end: Int
    }

    var tensors: [TensorInfo] = []
    var metadata: [String: String] = [:]

    /// Parses `bytes`, the header's UTF-8 JSON; `path` names the file in errors.
    init(_ bytes: ArraySlice<UInt8>, path: String) throws(SafeTensorsError) {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw .invalidHeader(path: path, reason: "not UTF-8")
        }
        var parser = Parser(bytes: bytes, index: bytes.startIndex, path: path)
        guard parser.peek() == UInt8(ascii: "{") else {
            throw .invalidHeaderDeserialization(path: path, reason: "the header must start with {")
        }
        var names: Set<String> = []
        try parser.object { (name, parser) throws(SafeTensorsError) in
            guard names.insert(name).inserted else { throw .duplicateName(path: path, name: name) }
            if name == "__metadata__" {
                metadata = try parser.metadata()
            } else {
                tensors.append(try parser.tensorInfo(name: name))
            }
        }
        parser.skipWhitespace()
        guard parser.index == bytes.endIndex else {
            throw parser.error("unexpected \(parser.describeNext()) after the header's object")
        }
    }
}

/// A recursive-descent JSON reader over the header's bytes.
private struct Parser {
    let bytes: ArraySlice<UInt8>
    var index: Int
    let path: String
    var depth = 0
    static let maximumDepth = 128

    func peek() -> UInt8? { index < bytes.endIndex ? bytes[index] : nil }

    func error(_ reason: String) -> SafeTensorsError {
        .invalidHeaderDeserialization(path: path, reason: "\(reason) at byte \(index - bytes.startIndex)")
    }

    func describeNext() -> String {
        guard let byte = peek() else { return "end" }
        return (0x21...0x7E).contains(byte) ? "'\(Character(UnicodeScalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    mutating func expect(_ character: Unicode.Scalar) throws(SafeTensorsError) {
        skipWhitespace()
        guard peek() == UInt8(ascii: character) else {
            throw error("expected '\(character)', found \(describeNext())")
        }
        index += 1
    }

    /// An object, calling `member` with each key and the parser positioned at its value.
    mutating func object(_ member: (String, inout Parser) throws(SafeTensorsError) -> Void) throws(SafeTensorsError) {
        try expect("{")
        try enter()
        defer { depth -= 1 }
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try string()
            try expect(":")
            skipWhitespace()
            try member(key, &self)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw error("expected ',' or '}', found \(describeNext())")
            }
        }
    }

    /// An array, calling `element` with the parser positioned at each element.
    mutating func array(_ element: (inout Parser) throws(SafeTensorsError) -> Void) throws(SafeTensorsError) {
        try expect("[")
        try enter()
        defer { depth -= 1 }
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw error("expected ',' or ']', found \(describeNext())")
            }
        }
    }

    mutating func enter() throws(SafeTensorsError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error("nested more than \(Self.maximumDepth) deep") }
    }

    /// `__metadata__`: an object of strings, or `null`.
    mutating func metadata() throws(SafeTensorsError) -> [String: String] {
        if try literal("null") { return [:] }
        guard peek() == UInt8(ascii: "{") else { throw error("__metadata__ must be an object of strings") }
        var metadata: [String: String] = [:]
        try object { (key, parser) throws(SafeTensorsError) in
            guard parser.peek() == UInt8(ascii: "\"") else {
                throw parser.error("__metadata__ value of \(key) must be a string")
            }
            let value = try parser.string()
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw parser.error("__metadata__ has the key \(key) twice")
            }
        }
        return metadata
    }

    /// One tensor's `{"dtype": …, "shape": […], "data_offsets": [begin, end]}`; other keys are
    /// skipped, as the reference skips them.
    mutating func tensorInfo(name: String) throws(SafeTensorsError) -> SafeTensorsHeader.TensorInfo {
        guard peek() == UInt8(ascii: "{") else { throw error("tensor \(name) must be an object") }
        var dtype: SafeTensors.DType?, shape: [Int]?, offsets: [Int]?
        try object { (key, parser) throws(SafeTensorsError) in
            switch key {
            case "dtype":
                guard dtype == nil else { throw parser.error("tensor \(name) has dtype twice") }
                guard parser.peek() == UInt8(ascii: "\"") else { throw parser.error("tensor \(name): dtype must be a string") }
                let text = try parser.string()
                guard let known = SafeTensors.DType(rawValue: text) else {
                    throw .unknownType(path: parser.path, name: name, dtype: text)
                }
                dtype = known
            case "shape":
                guard shape == nil else { throw parser.error("tensor \(name) has shape twice") }
                shape = try parser.integers(name: name, field: key)
            case "data_offsets":
                guard offsets == nil else { throw parser.error("tensor \(name) has data_offsets twice") }
                offsets = try parser.integers(name: name, field: key)
            default:
                try parser.skipValue()
            }
        }
        guard let dtype, let shape, let offsets else {
            throw error("tensor \(name) needs dtype, shape and data_offsets")
        }
        guard offsets.count == 2 else {
            throw error("tensor \(name): data_offsets must be [begin, end], not \(offsets.count) numbers")
        }
        return .init(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    /// An array of non-negative integers that fit in `Int`.
    mutating func integers(name: String, field: String) throws(SafeTensorsError) -> [Int] {
        guard peek() == UInt8(ascii: "[") else { throw error("tensor \(name): \(field) must be an array") }
        var values: [Int] = []
        try array { (parser) throws(SafeTensorsError) in values.append(try parser.integer(name: name, field: field)) }
        return values
    }

    mutating func integer(name: String, field: String) throws(SafeTensorsError) -> Int {
        let start = index
        var value = 0, overflow = false
        while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            (value, overflow) = (sum, overflow || o1 || o2)
            index += 1
        }
        let digits = bytes[start..<index]
        let next = peek()
        // The number as written, for a message only.
        func text() -> String {
            var end = index
            while end < bytes.endIndex, !",]} \t\r\n".utf8.contains(bytes[end]) { end += 1 }
            return String(decoding: bytes[start..<end].prefix(40), as: UTF8.self)
        }
        guard !digits.isEmpty, next != UInt8(ascii: "."), next != UInt8(ascii: "e"), next != UInt8(ascii: "E") else {
            let message = "tensor \(name): \(field) holds \(text()), not a non-negative integer"
            index = start
            throw error(message)
        }
        guard !(digits.count > 1 && digits.first == UInt8(ascii: "0")) else {
            let message = "tensor \(name): \(field) holds \(text()), a number with a leading zero"
            index = start
            throw error(message)
        }
        guard !overflow else {
            let message = "tensor \(name): \(field) holds \(text()), which does not fit in 64 bits"
            index = start
            throw error(message)
        }
        return value
    }

    /// `true` and moves past `word` if it comes next.
    mutating func literal(_ word: String) throws(SafeTensorsError) -> Bool {
        let utf8 = Array(word.utf8)
        guard bytes[index...].starts(with: utf8) else { return false }
        index += utf8.count
        return true
    }

    /// A JSON string, unescaped.
    mutating func string() throws(SafeTensorsError) -> String {
        try expect("\"")
        var text: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: text, as: UTF8.self)
            case UInt8(ascii: "\\"): try escape(into: &text)
            case 0..<0x20: throw error("a control character in a string")
            default: text.append(byte)
            }
        }
    }

    private mutating func escape(into text: inout [UInt8]) throws(SafeTensorsError) {
        guard let byte = peek() else { throw error("unterminated string") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"):
            text.append(byte)
            return
        case UInt8(ascii: "b"): text.append(0x08); return
        case UInt8(ascii: "f"): text.append(0x0C); return
        case UInt8(ascii: "n"): text.append(0x0A); return
        case UInt8(ascii: "r"): text.append(0x0D); return
        case UInt8(ascii: "t"): text.append(0x09); return
        default: break
        }
        guard byte == UInt8(ascii: "u") else { throw error("invalid escape") }
        var scalar = try hexQuad()
        if (0xD800..<0xDC00).contains(scalar) {
            guard try literal("\\u") else { throw error("a lone leading surrogate") }
            let low = try hexQuad()
            guard (0xDC00..<0xE000).contains(low) else { throw error("a lone leading surrogate") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(scalar) {
            throw error("a lone trailing surrogate")
        }
        UTF8.encode(Unicode.Scalar(scalar)!) { text.append($0) }
    }

    private mutating func hexQuad() throws(SafeTensorsError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek(), let digit = Character(UnicodeScalar(byte)).hexDigitValue else {
                throw error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// Skips any JSON value (an unknown field of a tensor's entry).
    mutating func skipValue() throws(SafeTensorsError) {
        skipWhitespace()
        switch peek() ?? 0 {
        case UInt8(ascii: "{"): try object { (_, parser) throws(SafeTensorsError) in try parser.skipValue() }
        case UInt8(ascii: "["): try array { (parser) throws(SafeTensorsError) in try parser.skipValue() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default:
            for word in ["true", "false", "null"] where try literal(word) { return }
            throw error("unexpected \(describeNext())")
        }
    }

    /// A number by JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func skipNumber() throws(SafeTensorsError) {
        func digits(_ parser: inout Parser) -> Int {
            let start = parser.index
            while let byte = parser.peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { parser.index += 1 }
            return parser.index - start
        }
        if peek() == UInt8(ascii: "-") { index += 1 }
        let leadingZero = peek() == UInt8(ascii: "0")
        let integerDigits = digits(&self)
        guard integerDigits > 0, !(leadingZero && integerDigits > 1) else { throw error("invalid number") }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw error("invalid number") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw error("invalid number") }
        }
    }
}
