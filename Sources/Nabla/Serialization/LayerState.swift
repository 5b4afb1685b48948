/// What did not match when loading a layer's state: every missing, unexpected and wrongly shaped
/// tensor at once, as PyTorch's `load_state_dict` reports them.
public struct StateLoadingError: Error, Equatable, CustomStringConvertible {
    /// Names the layer has but the file does not.
    public var missing: [String]
    /// Names the file has but the layer does not.
    public var unexpected: [String]
    /// Names both have, with different shapes.
    public var mismatched: [Mismatch]

    public struct Mismatch: Equatable, Sendable {
        public var name: String
        public var expected: [Int]
        public var found: [Int]
    }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { parts.append("unexpected \(unexpected.joined(separator: ", "))") }
        if !mismatched.isEmpty {
            parts.append(
                "wrong shapes "
                    + mismatched.map { "\($0.name) (\($0.found), expected \($0.expected))" }.joined(separator: ", "))
        }
        return "state does not match the layer: " + parts.joined(separator: "; ")
    }
}

extension Layer {
    /// Every parameter and buffer by name, with `prefix` in front: what ``saveState(into:prefix:)``
    /// stores.
    public var state: [(name: String, value: Tensor<Scalar>)] {
        namedParameters.map { ($0.name, $0.parameter.value) } + namedBuffers.map { ($0.name, $0.buffer.value) }
    }

    /// Stores the parameters and buffers under their names (PyTorch's `state_dict` names), with
    /// `prefix` in front.
    public func saveState(into file: inout SafeTensors, prefix: String = "") {
        for (name, value) in state { file.set(prefix + name, value) }
    }

    /// Loads the parameters and buffers stored under their names (with `prefix`), converting F32
    /// and F64 to this layer's scalar type. Entries under other prefixes are ignored.
    ///
    /// - Throws: ``StateLoadingError`` listing every missing, unexpected and wrongly shaped
    ///   tensor; then nothing is changed.
    public func loadState(from file: SafeTensors, prefix: String = "") throws(StateLoadingError) {
        let parameters = namedParameters, buffers = namedBuffers
        let expected = Dictionary(uniqueKeysWithValues:
            parameters.map { (prefix + $0.name, $0.parameter.value.shape) }
                + buffers.map { (prefix + $0.name, $0.buffer.value.shape) })
        let stored = file.entries.filter { $0.key.hasPrefix(prefix) && $0.key != "__metadata__" }
        let error = StateLoadingError(
            missing: expected.keys.filter { stored[$0] == nil }.sorted(),
            unexpected: stored.keys.filter { expected[$0] == nil }.sorted(),
            mismatched: expected.compactMap { name, shape in
                guard let entry = stored[name], entry.shape != shape else { return nil }
                return .init(name: name, expected: shape, found: entry.shape)
            }.sorted { $0.name < $1.name })
        guard error.missing.isEmpty && error.unexpected.isEmpty && error.mismatched.isEmpty else { throw error }
        for (name, parameter) in parameters { parameter.value = file.tensor(prefix + name)! }
        for (name, buffer) in buffers { buffer.value = file.tensor(prefix + name)! }
    }
}
