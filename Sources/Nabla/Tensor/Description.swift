extension Tensor: CustomStringConvertible {
    /// The shape and the scalars as nested brackets; long axes show their first and last three
    /// entries around `…`, as NumPy does.
    ///
    /// The text stays bounded by what it shows: a zero-size tensor prints `[]` whatever its other
    /// axes, and a tensor of more than 64 axes (NumPy's limit) prints its shape in short and its
    /// scalars flattened.
    public var description: String {
        let maximumNestedRank = 64
        var text = "Tensor<\(Scalar.self)> "
        if rank > maximumNestedRank {
            text += "[" + Self.summarized(shape.lazy.map(String.init)) + "] (rank \(rank))\n"
        } else {
            text += "\(shape)\n"
        }
        guard rank > 0 else { return text + "\(scalar)" }
        guard scalarCount > 0 else { return text + "[]" }
        guard rank <= maximumNestedRank else {
            return withUnsafeBufferPointer { text + "[" + Self.summarized($0.lazy.map { "\($0)" }) + "] (flattened)" }
        }
        let summarize = scalarCount > 1000
        let strides = Self.contiguousStrides(shape)
        withUnsafeBufferPointer { x in
            func write(axis: Int, offset: Int, indent: String) {
                text += "["
                let count = shape[axis]
                let shown: [Int?] = summarize && count > 6
                    ? Array(0..<3) + [nil] + Array((count - 3)..<count)
                    : Array(0..<count)
                for (position, index) in shown.enumerated() {
                    if position > 0 {
                        text += axis == rank - 1 ? ", " : ",\n" + indent + " "
                    }
                    guard let index else {
                        text += "…"
                        continue
                    }
                    if axis == rank - 1 {
                        text += "\(x[offset + index])"
                    } else {
                        write(axis: axis + 1, offset: offset + index * strides[axis], indent: indent + " ")
                    }
                }
                text += "]"
            }
            write(axis: 0, offset: 0, indent: "")
        }
        return text
    }

    /// The first and last three of `items` around `…` when there are more than six.
    private static func summarized<C: Collection>(_ items: C) -> String where C.Element == String {
        guard items.count > 6 else { return items.joined(separator: ", ") }
        return (Array(items.prefix(3)) + ["…"] + Array(items.suffix(3))).joined(separator: ", ")
    }
}
