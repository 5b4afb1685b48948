extension Tensor: CustomStringConvertible {
    /// The shape and the scalars as nested brackets; long axes show their first and last three
    /// entries around `…`, as NumPy does.
    public var description: String {
        let summarize = scalarCount > 1000
        var text = "Tensor<\(Scalar.self)> \(shape)\n"
        guard rank > 0 else { return text + "\(scalar)" }
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
}
