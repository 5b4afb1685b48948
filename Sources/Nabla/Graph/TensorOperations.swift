/// Differentiable operations on ``Variable``s.
///
/// Each op computes its result with the same ``Tensor`` kernels as everything else and, when a
/// recording ``GradientTape`` tracks one of its inputs, records a backward rule. Every rule is
/// itself written with these ops, so gradients can be differentiated again. The rules of each op
/// family sit beside its forward, in `Graph/Operations/`.
public enum TensorOperations<Scalar: TensorScalar> {
    /// A variable holding `value`. With `requiresGradient`, every tape tracks it without
    /// ``GradientTape/watch(_:)-(Variable<Scalar>)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func variable(_ value: Tensor<Scalar>, requiresGradient: Bool = false)
        -> Variable<Scalar>
    {
        Variable(value, requiresGradient: requiresGradient)
    }

    /// A constant: a variable that no tape differentiates unless it is watched.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func constant(_ value: Tensor<Scalar>) -> Variable<Scalar> {
        Variable(value)
    }

    /// `x`'s value as a new constant: gradients do not flow through it.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func stopGradient(_ x: Variable<Scalar>) -> Variable<Scalar> {
        Variable(x.value)
    }

    /// Records an op whose result is `value`, computed from `inputs`, with backward `rule`.
    ///
    /// This is the one place where ops meet tapes: with no recording tape tracking an input, it
    /// allocates nothing but the result.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func record(
        _ name: String, _ inputs: [Variable<Scalar>], _ value: Tensor<Scalar>,
        file: StaticString, line: UInt, slice: SliceRegion? = nil, inputRegions: [SliceRegion?] = [],
        productFactors: ProductGradientFactors<Scalar>? = nil, tensorBackward: TensorBackward<Scalar>? = nil,
        rule: @escaping BackwardRule<Scalar>
    ) -> Variable<Scalar> {
        let output = Variable(value)
        let tapes = GraphContext.activeTapes
        guard !tapes.isEmpty, !GraphContext.isRecordingSuspended else { return output }
        let site = GraphContext.detectsAnomalies ? "\(file):\(line)" : nil
        let node = TapeNode(
            name: name, inputs: inputs, output: output, rule: rule, site: site, slice: slice,
            inputRegions: inputRegions, productFactors: productFactors, tensorBackward: tensorBackward)
        for tape in tapes {
            if let tape = tape as? GradientTape<Scalar> {
                _ = tape.record(ifTracking: node)
            } else {
                _ = tape.recordIfTracking(node)
            }
        }
        return output
    }

    /// Records an op whose backward rule also reads the op's own output (as `exp` does).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func record(
        _ name: String, _ inputs: [Variable<Scalar>], _ value: Tensor<Scalar>,
        file: StaticString, line: UInt,
        ruleUsingOutput rule: @escaping (Variable<Scalar>, Variable<Scalar>, [Bool]) -> [Variable<Scalar>?]
    ) -> Variable<Scalar> {
        var output: Variable<Scalar>?
        let result = record(name, inputs, value, file: file, line: line) { g, needs in
            rule(output!, g, needs)
        }
        output = result
        return result
    }

    /// A custom differentiable op: `forward` computes the result from the inputs' values and
    /// `backward` maps the upstream gradient to one gradient per input.
    ///
    /// - Parameters:
    ///   - name: The op's name, in messages, anomaly reports and the graph export.
    ///   - inputs: The op's inputs; `backward` returns one gradient (or `nil`) per input, of
    ///     that input's shape.
    ///   - isBackwardDifferentiable: Whether `backward` is written with
    ///     ``TensorOperations`` so that it can be differentiated again. If not, the rule runs with
    ///     recording suspended, and asking for a derivative through its result stops with a clear
    ///     message instead of silently returning zero.
    ///   - forward: Computes the result from the inputs' values, in the order of `inputs`.
    ///   - backward: Maps the upstream gradient (of the result's shape) and which inputs need a
    ///     gradient to one gradient per input, `nil` where none is needed.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: A variable holding `forward`'s result.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func custom(
        _ name: String, inputs: [Variable<Scalar>],
        isBackwardDifferentiable: Bool,
        forward: ([Tensor<Scalar>]) -> Tensor<Scalar>,
        backward: @escaping BackwardRule<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = forward(inputs.map(\.value))
        guard !isBackwardDifferentiable else {
            return record(name, inputs, value, file: file, line: line, rule: backward)
        }
        return record(name, inputs, value, file: file, line: line) { upstream, needs in
            let gradients = withoutRecording { backward(upstream, needs) }
            // Gradients that an outer tape would have differentiated get a node that refuses.
            return gradients.enumerated().map { index, gradient in
                gradient.map { gradient in
                    record("\(name) (backward, not differentiable)", [upstream] + inputs, gradient.value,
                        file: file, line: line) { _, _ in
                        Misuse.fail(
                            name,
                            "its backward rule is marked not differentiable, so the gradient of "
                                + "input \(index) cannot be differentiated again")
                    }
                }
            }
        }
    }
}
