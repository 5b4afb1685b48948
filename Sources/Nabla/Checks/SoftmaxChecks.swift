extension Misuse {
    /// Resolves a softmax axis and checks that it is not empty.
    @usableFromInline
    static func checkedSoftmaxAxis(_ op: String, _ shape: [Int], _ axis: Int) -> Int {
        let resolved = resolveAxis(op, axis, shape: shape)
        check(shape[resolved] > 0, op, "axis \(axis) of shape \(shape) is empty")
        return resolved
    }
}
