import Synchronization

/// A backward rule: given the gradient flowing into an op's output and which inputs need a
/// gradient, returns one gradient per input (`nil` where not needed).
///
/// Rules are written with ``TensorOperations``, so a tape that records them can differentiate
/// them again.
public typealias BackwardRule<Scalar: TensorScalar> =
    (_ upstream: Variable<Scalar>, _ needsGradient: [Bool]) -> [Variable<Scalar>?]

/// The gradient of one input of an op as `op(lhs)·op(rhs)`, from the op's upstream gradient
/// and the input's index, or `nil` for an input whose gradient is no product (see
/// ``TapeNode/productFactors``).
typealias ProductGradientFactors<Scalar: TensorScalar> =
    (_ upstream: Tensor<Scalar>, _ index: Int) -> MatrixProductFactors<Scalar>?

/// Matrices whose product `op(lhs)·op(rhs)` is a gradient. Products with the same transposes
/// and result add up as one product of the factors concatenated along the contracted axis.
struct MatrixProductFactors<Scalar: TensorScalar> {
    var lhs: [Tensor<Scalar>], rhs: [Tensor<Scalar>]
    let transposeLHS: Bool, transposeRHS: Bool

    init(_ lhs: Tensor<Scalar>, _ rhs: Tensor<Scalar>, transposeLHS: Bool, transposeRHS: Bool) {
        (self.lhs, self.rhs, self.transposeLHS, self.transposeRHS) = ([lhs], [rhs], transposeLHS, transposeRHS)
    }

    /// The sum of every product collected, in one GEMM.
    var product: Tensor<Scalar> {
        matmul(joinedLHS, joinedRHS, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
    }

    /// Adds ``product`` to `sum` in place, in one GEMM with β = 1.
    func add(to sum: inout Tensor<Scalar>) {
        sum.addMatrixProduct(joinedLHS, joinedRHS, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
    }

    private var joinedLHS: Tensor<Scalar> { lhs.count == 1 ? lhs[0] : Tensor(concatenating: lhs, alongAxis: transposeLHS ? 0 : 1) }
    private var joinedRHS: Tensor<Scalar> { rhs.count == 1 ? rhs[0] : Tensor(concatenating: rhs, alongAxis: transposeRHS ? 1 : 0) }
}

/// One input's gradient from a ``TensorBackward``: a tensor, or the factors of a matrix product
/// that the walk multiplies once with every other product adding to the same variable.
enum TensorGradient<Scalar: TensorScalar> {
    case tensor(Tensor<Scalar>)
    case product(MatrixProductFactors<Scalar>)
}

/// A fused op's first-order backward at the tensor level, for a walk no tape records: from the
/// upstream gradient and which inputs need one, one gradient per input (`nil` where not needed).
/// The op's ``BackwardRule`` stays the differentiable form, which every other walk runs.
typealias TensorBackward<Scalar: TensorScalar> = (_ upstream: Tensor<Scalar>, _ needsGradient: [Bool]) -> [TensorGradient<Scalar>?]

/// Where a slice op's output sits in its one input: `range` along `axis`.
struct SliceRegion: Sendable {
    let axis: Int
    let range: Range<Int>
}

/// One recorded op: its inputs, its output's identity and its backward rule.
final class TapeNode<Scalar: TensorScalar>: @unchecked Sendable {
    let name: String
    let inputs: [Variable<Scalar>]
    let outputID: UInt64
    let outputShape: [Int]
    let rule: BackwardRule<Scalar>
    /// For a slice of its one input: where. The backward walk then gathers the slices' gradients
    /// and pads them once (see ``GradientTape/assembled(_:shape:)``); padding each slice's
    /// gradient to the whole input, as `rule` does, is only the fallback for overlapping slices.
    /// T slices of a sequence cost O(T) rather than O(T²).
    let slice: SliceRegion?
    /// For an op that reads only a region of some inputs (a recurrent step, its rows of the
    /// sequence's input projection): by input, the region read, or `nil` for the whole input;
    /// empty if every input is read whole. Such an input's gradient, from `rule` or
    /// `tensorBackward`, has the region's shape and joins the input's slice gradients, as a slice
    /// op's would.
    let inputRegions: [SliceRegion?]
    /// For the backward walk when no tape records it: the gradient of input `index` from
    /// `upstream` as the factors of a matrix product, which the walk multiplies once for every
    /// product that adds to the same variable (a recurrent weight's, over all its steps).
    let productFactors: ProductGradientFactors<Scalar>?
    /// For the backward walk when no tape records it: every input's gradient at once, from a
    /// fused op's kernels (a recurrent step's), instead of `rule`.
    let tensorBackward: TensorBackward<Scalar>?
    /// The name scope the op was recorded in, for the graph export.
    let scope: String?
    /// Where the op was created (only in anomaly mode).
    let site: String?

    init(
        name: String, inputs: [Variable<Scalar>], output: Variable<Scalar>,
        rule: @escaping BackwardRule<Scalar>, site: String?, slice: SliceRegion? = nil,
        inputRegions: [SliceRegion?] = [], productFactors: ProductGradientFactors<Scalar>? = nil,
        tensorBackward: TensorBackward<Scalar>? = nil
    ) {
        self.inputRegions = inputRegions
        self.productFactors = productFactors
        self.tensorBackward = tensorBackward
        self.name = name
        self.inputs = inputs
        self.outputID = output.id
        self.outputShape = output.shape
        self.rule = rule
        self.slice = slice
        self.scope = GraphContext.scopeName
        self.site = site
    }
}

extension TapeNode {
    /// The region of input `index` the op reads, or `nil` for the whole input.
    func region(ofInput index: Int) -> SliceRegion? {
        index < inputRegions.count ? inputRegions[index] : nil
    }

    /// The shape of input `index`'s gradient: the input's, or its region's.
    func expectedGradientShape(_ index: Int) -> [Int] {
        var shape = inputs[index].shape
        if let region = region(ofInput: index) { shape[region.axis] = region.range.count }
        return shape
    }
}

/// What ``TensorOperations`` needs of a tape, independent of its scalar type.
protocol RecordingTape: AnyObject, Sendable {
    /// Records `node` if this tape tracks one of its inputs; returns whether it did.
    func recordIfTracking<S: TensorScalar>(_ node: TapeNode<S>) -> Bool
    /// Whether an op recorded on this tape produced `variable` (or it is tracked, as a watched
    /// variable or one made with `requiresGradient` is).
    func tracks<S: TensorScalar>(_ variable: Variable<S>) -> Bool
}

/// What ``GradientTape/gradient(of:withRespectTo:seed:createGraph:unconnected:)`` does for a
/// source that the target does not depend on.
public enum UnconnectedGradients: Sendable {
    /// Stop with a message: a missing connection is almost always a bug, such as a value
    /// computed outside `record { }`.
    case error
    /// Return zeros of the source's shape, for callers who mean it (as TensorFlow's
    /// `unconnected_gradients=ZERO` and PyTorch's `allow_unused`).
    case zero
}

/// Records differentiable ops and computes gradients by walking them in reverse.
///
/// ```swift
/// let tape = GradientTape<Double>()
/// let x = TensorOperations.variable(Tensor([1, 2, 3]))
/// let y = tape.record { TensorOperations.sum(TensorOperations.exp(x)) }
/// let dx = tape.gradient(of: y, withRespectTo: [x])[0]   // exp(x)
/// ```
///
/// A tape tracks variables made with `requiresGradient: true` and those it watches
/// (``watch(_:)-(Variable<Scalar>)``), and records every op one of whose inputs it tracks. Tapes
/// nest: while an inner tape computes a gradient, an outer tape that tracks the same variables
/// records that computation, which gives second and higher derivatives. Ops outside ``record(_:)`` allocate no graph nodes.
public final class GradientTape<Scalar: TensorScalar>: RecordingTape {
    /// Whether ``gradient(of:withRespectTo:seed:createGraph:unconnected:)`` may be called more
    /// than once.
    public let isPersistent: Bool

    private struct State {
        var nodes: [TapeNode<Scalar>] = []
        var tracked: Set<UInt64> = []
        var hasComputedGradient = false
    }
    private let state = Mutex(State())

    /// Creates a tape. A persistent tape keeps its graph for several gradient calls; one that is
    /// not frees each node's saved tensors as soon as its backward rule has run.
    public init(persistent: Bool = false) {
        self.isPersistent = persistent
    }

    /// Marks `variable` for differentiation on this tape.
    public func watch(_ variable: Variable<Scalar>) {
        state.withLock { _ = $0.tracked.insert(variable.id) }
    }

    /// Marks each of `variables` for differentiation on this tape.
    public func watch(_ variables: [Variable<Scalar>]) {
        state.withLock { state in for v in variables { state.tracked.insert(v.id) } }
    }

    /// Runs `body` with this tape recording (inside any tapes already recording).
    public func record<R>(_ body: () throws -> R) rethrows -> R {
        try GraphContext.$activeTapes.withValue(GraphContext.activeTapes + [self], operation: body)
    }

    /// Forgets every recorded op and watched variable, and what the ops saved, so that a
    /// persistent tape reused across training steps does not grow. The tape can then record and
    /// compute gradients again as if new.
    public func reset() {
        state.withLock { $0 = State() }
    }

    /// The number of ops recorded so far.
    public var recordedOperationCount: Int { state.withLock { $0.nodes.count } }

    /// The ops recorded so far, in order.
    var recordedNodes: [TapeNode<Scalar>] { state.withLock { $0.nodes } }

    func tracks<S: TensorScalar>(_ variable: Variable<S>) -> Bool {
        guard S.self == Scalar.self else { return false }
        return variable.requiresGradient || state.withLock { $0.tracked.contains(variable.id) }
    }

    func recordIfTracking<S: TensorScalar>(_ node: TapeNode<S>) -> Bool {
        guard let node = node as? TapeNode<Scalar> else { return false }
        return record(ifTracking: node)
    }

    /// ``recordIfTracking(_:)`` for a node of this tape's scalar type, which an op's specialized
    /// code calls directly: the protocol's generic entry point runs unspecialized.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func record(ifTracking node: TapeNode<Scalar>) -> Bool {
        state.withLock { state in
            // A loop, not `contains(where:)`, whose closure over `state` measured 60% slower here.
            for input in node.inputs where input.requiresGradient || state.tracked.contains(input.id) {
                state.nodes.append(node)
                state.tracked.insert(node.outputID)
                return true
            }
            return false
        }
    }

    /// The gradients of `target` with respect to each of `sources`.
    ///
    /// - Parameters:
    ///   - target: The value to differentiate, computed by ops recorded on this tape. Without a
    ///     `seed` it must hold one scalar.
    ///   - sources: The variables to differentiate with respect to, each watched by this tape or
    ///     made with `requiresGradient`.
    ///   - seed: The upstream gradient ∂L/∂target, of `target`'s shape; a layer's autodiff
    ///     backward passes the gradient it receives from the next layer here.
    ///   - createGraph: Also record the backward computation on this tape (which must be
    ///     persistent), so that a later call can differentiate these gradients again. Outer
    ///     tapes record it whatever this flag says.
    ///   - unconnected: What a source that `target` does not depend on gets: by default the call
    ///     stops with a message, since a missing connection is almost always a bug; `.zero`
    ///     returns zeros (also for a target that no recorded op produced, such as a constant).
    /// - Returns: One gradient per source, with that source's shape.
    ///
    /// A source the tape does not track, or (unless `unconnected` is `.zero`) a target not
    /// recorded on this tape, stops with a message: it would otherwise give zeros without a word.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func gradient(
        of target: Variable<Scalar>, withRespectTo sources: [Variable<Scalar>],
        seed: Tensor<Scalar>? = nil, createGraph: Bool = false,
        unconnected: UnconnectedGradients = .error
    ) -> [Variable<Scalar>] {
        let op = "gradient"
        Misuse.check(
            !createGraph || isPersistent, op,
            "createGraph needs a persistent tape: create it with GradientTape(persistent: true)")
        var nodes = state.withLock { state -> [TapeNode<Scalar>?] in
            if state.hasComputedGradient && !isPersistent {
                Misuse.fail(
                    op,
                    "this tape is not persistent and has already computed a gradient; "
                        + "create it with GradientTape(persistent: true) to call gradient again")
            }
            Self.checkConnections(target, sources, state, unconnected)
            state.hasComputedGradient = true
            let nodes = state.nodes
            if !isPersistent { state.nodes = [] }
            return nodes.map { $0 }
        }
        let seedValue: Tensor<Scalar>
        if let seed {
            Misuse.check(
                seed.shape == target.shape, op,
                "seed \(seed.shape) and target \(target.shape): shapes differ")
            seedValue = seed
        } else {
            Misuse.check(
                target.value.scalarCount == 1, op,
                "target \(target.shape) is not a scalar; pass seed: the upstream gradient of "
                    + "shape \(target.shape)")
            seedValue = Tensor(repeating: 1, shape: target.shape)
        }

        let gradients = backpropagate(seedValue, from: target, through: &nodes, to: sources, createGraph: createGraph)
        return sources.enumerated().map { index, source in
            if let gradient = gradients[source.id] { return gradient }
            Misuse.check(
                unconnected == .zero, op,
                "source \(index) \(source.shape) is not connected to the target: no recorded op "
                    + "leads from it to the target. Compute every step from the source to the "
                    + "target inside tape.record { } (an inner tape's gradient too), or pass "
                    + "unconnected: .zero if zeros are meant")
            return TensorOperations.constant(.zeros(shape: source.shape))
        }
    }

    /// The backward walk: from `target`'s `seed`, runs the rules of the recorded `nodes` in
    /// reverse order, summing each variable's gradients, and returns them by variable id (the
    /// sources' are kept). Only nodes on a path from a source run; a non-persistent tape frees
    /// each node once it has run. The rules record on the other active tapes, and on this one
    /// with `createGraph`, which is how higher derivatives come about.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func backpropagate(
        _ seed: Tensor<Scalar>, from target: Variable<Scalar>, through nodes: inout [TapeNode<Scalar>?],
        to sources: [Variable<Scalar>], createGraph: Bool
    ) -> [UInt64: Variable<Scalar>] {
        var relevant = Set(sources.map(\.id))
        for case let node? in nodes where node.inputs.contains(where: { relevant.contains($0.id) }) {
            relevant.insert(node.outputID)
        }
        let backwardTapes = GraphContext.activeTapes.filter { $0 !== self } + (createGraph ? [self] : [])
        var gradients: [UInt64: Variable<Scalar>] = [target.id: TensorOperations.constant(seed)]
        // The gradients of slices, by the variable sliced, until that variable's gradient is needed.
        var slices: [UInt64: (shape: [Int], pieces: [SliceGradient])] = [:]
        let sourceIDs = Set(sources.map(\.id))
        // With no tape recording this walk, a variable's gradients add up in place: `sums` holds
        // the running sums the walk owns, and `products` the matrix products still to multiply,
        // until the variable's gradient is read.
        let addsInPlace = backwardTapes.isEmpty
        // Called once every use of the variable has run (before `settle`).
        func gatherSlices(of id: UInt64) {
            guard let (shape, pieces) = slices.removeValue(forKey: id) else { return }
            guard addsInPlace else {
                let whole = Self.assembled(pieces, shape: shape)
                gradients[id] = gradients[id].map { TensorOperations.add($0, whole) } ?? whole
                return
            }
            // Into a running sum the walk owns, each piece adds in place, with no copy.
            if var whole = sums.removeValue(forKey: id) {
                for piece in pieces {
                    whole.addToSlice(piece.gradient.value, alongAxis: piece.region.axis, piece.region.range)
                }
                sums[id] = whole
                return
            }
            // With no gradient yet, the pieces join into one by concatenation (zeros in any gaps),
            // which writes each element once; otherwise each adds into its region, in place.
            guard let existing = gradients.removeValue(forKey: id) else {
                gradients[id] = Self.assembled(pieces, shape: shape)
                return
            }
            var whole = existing.value
            for piece in pieces {
                whole.addToSlice(piece.gradient.value, alongAxis: piece.region.axis, piece.region.range)
            }
            gradients[id] = TensorOperations.constant(whole)
        }
        var sums: [UInt64: Tensor<Scalar>] = [:]
        var products: [UInt64: MatrixProductFactors<Scalar>] = [:]
        func addProducts(of id: UInt64) {
            guard let factors = products.removeValue(forKey: id) else { return }
            guard var sum = sums.removeValue(forKey: id) ?? gradients.removeValue(forKey: id)?.value else {
                sums[id] = factors.product
                return
            }
            factors.add(to: &sum)  // one GEMM with β = 1
            sums[id] = sum
        }
        // With `addsInPlace`: adds `gradient` to the variable's running sum.
        func add(_ gradient: Variable<Scalar>, to id: UInt64) {
            if var sum = sums.removeValue(forKey: id) {
                sum += gradient.value
                sums[id] = sum
            } else if let existing = gradients.removeValue(forKey: id) {
                sums[id] = existing.value + gradient.value
            } else {
                gradients[id] = gradient
            }
        }
        // With `addsInPlace`: adds a kernel backward's `gradient`, which no variable holds, as the
        // running sum itself when it is the first, so that later gradients add into it in place.
        func add(owned gradient: Tensor<Scalar>, to id: UInt64) {
            if sums[id] == nil, gradients[id] == nil {
                sums[id] = gradient
            } else {
                add(TensorOperations.constant(gradient), to: id)
            }
        }
        // With `addsInPlace`: joins `factors` to the products still to multiply for the variable.
        func addProduct(_ factors: MatrixProductFactors<Scalar>, to id: UInt64) {
            if var pending = products[id], pending.transposeLHS == factors.transposeLHS,
                pending.transposeRHS == factors.transposeRHS
            {
                products[id] = nil  // so that the appends below do not copy
                pending.lhs += factors.lhs
                pending.rhs += factors.rhs
                products[id] = pending
            } else {
                addProducts(of: id)
                products[id] = factors
            }
        }
        func settle(_ id: UInt64) {
            addProducts(of: id)
            if let sum = sums.removeValue(forKey: id) { gradients[id] = TensorOperations.constant(sum) }
        }
        GraphContext.$activeTapes.withValue(backwardTapes) {
            for index in nodes.indices.reversed() {
                guard let node = nodes[index] else { continue }
                if !isPersistent { nodes[index] = nil }  // frees what the node saved once it has run
                gatherSlices(of: node.outputID)  // every use of the output came later on the tape
                settle(node.outputID)
                guard relevant.contains(node.outputID), let upstream = gradients[node.outputID]
                else { continue }
                if !sourceIDs.contains(node.outputID) { gradients[node.outputID] = nil }
                if let region = node.slice, let input = node.inputs.first {
                    if relevant.contains(input.id) {
                        slices[input.id, default: (input.shape, [])].pieces.append(
                            SliceGradient(region: region, gradient: upstream))
                    }
                    continue
                }
                var needs = node.inputs.map { relevant.contains($0.id) }
                // With anomaly detection on, every rule runs, so its result is checked.
                let runsKernels = addsInPlace && !GraphContext.detectsAnomalies
                // The gradient of an input read only in a region joins that input's slices.
                func addRegion(_ gradient: Variable<Scalar>, of region: SliceRegion, to input: Variable<Scalar>) {
                    slices[input.id, default: (input.shape, [])].pieces.append(
                        SliceGradient(region: region, gradient: gradient))
                }
                if runsKernels, let tensorBackward = node.tensorBackward {
                    let inputGradients = tensorBackward(upstream.value, needs)
                    Self.checkTensorBackwardResult(node, inputGradients, needs)
                    for (i, input) in node.inputs.enumerated() where needs[i] {
                        switch (inputGradients[i]!, node.region(ofInput: i)) {
                        case (.tensor(let gradient), let region?):
                            addRegion(TensorOperations.constant(gradient), of: region, to: input)
                        case (.tensor(let gradient), nil): add(owned: gradient, to: input.id)
                        case (.product(let factors), nil): addProduct(factors, to: input.id)
                        case (.product, _?):
                            Misuse.fail("\(node.name) backward", "input \(i) is read in a region; its gradient must be a tensor")
                        }
                    }
                    continue
                }
                // Inputs whose gradient joins the products still to multiply, unrun by the rule.
                var accumulated = [Bool](repeating: false, count: needs.count)
                if runsKernels, let productFactors = node.productFactors {
                    for (i, input) in node.inputs.enumerated() where needs[i] {
                        guard let factors = productFactors(upstream.value, i) else { continue }
                        addProduct(factors, to: input.id)
                        (accumulated[i], needs[i]) = (true, false)
                    }
                }
                guard needs.contains(true) else { continue }
                let inputGradients = node.rule(upstream, needs)
                Self.checkRuleResult(node, inputGradients, needs)
                for (i, input) in node.inputs.enumerated() {
                    guard !accumulated[i], let gradient = inputGradients[i], relevant.contains(input.id) else { continue }
                    if let region = node.region(ofInput: i) {
                        addRegion(gradient, of: region, to: input)
                    } else if addsInPlace {
                        add(gradient, to: input.id)
                    } else if let existing = gradients[input.id] {
                        gradients[input.id] = TensorOperations.add(existing, gradient)
                    } else {
                        gradients[input.id] = gradient
                    }
                }
            }
            // Variables no op produced (the sources among them), in the loop's order: slices into
            // the running sums, then the sums and products settle.
            for id in Array(slices.keys) { gatherSlices(of: id) }
            for id in Set(sums.keys).union(products.keys) { settle(id) }
        }
        return gradients
    }

    /// A slice's gradient on its way to the variable sliced.
    struct SliceGradient {
        let region: SliceRegion
        var gradient: Variable<Scalar>
    }

    /// The rule of a slice of `region` from a variable of `shape`: the gradient padded with zeros
    /// back to `shape`.
    static func padRule(_ shape: [Int], _ region: SliceRegion) -> BackwardRule<Scalar> {
        { g, _ in
            var before = shape, after = shape
            before[region.axis] = region.range.lowerBound
            after[region.axis] = shape[region.axis] - region.range.upperBound
            return [TensorOperations.concatenate(
                [TensorOperations.constant(.zeros(shape: before)), g, TensorOperations.constant(.zeros(shape: after))],
                alongAxis: region.axis)]
        }
    }

    /// The gradient of a variable of `shape` from those of slices of it: the pieces along one
    /// axis that do not overlap become one concatenation with zeros in the gaps; pieces of the
    /// same region add first; anything else is padded to `shape` (as the slice op's rule does)
    /// and adds. Written with ``TensorOperations``, so it can be differentiated again.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func assembled(_ pieces: [SliceGradient], shape: [Int]) -> Variable<Scalar> {
        typealias Ops = TensorOperations<Scalar>
        var sums: [SliceGradient] = []
        for piece in pieces {
            if let i = sums.firstIndex(where: { $0.region.axis == piece.region.axis && $0.region.range == piece.region.range }) {
                sums[i].gradient = Ops.add(sums[i].gradient, piece.gradient)
            } else {
                sums.append(piece)
            }
        }
        let axis = sums[0].region.axis
        let sorted = sums.sorted { $0.region.range.lowerBound < $1.region.range.lowerBound }
        let disjoint = zip(sorted, sorted.dropFirst()).allSatisfy { $0.region.range.upperBound <= $1.region.range.lowerBound }
        guard disjoint, sums.allSatisfy({ $0.region.axis == axis }) else {
            let padded = sums.map { Self.padRule(shape, $0.region)($0.gradient, [true])[0]! }
            return padded.dropFirst().reduce(padded[0]) { Ops.add($0, $1) }
        }
        func zeros(_ size: Int) -> Variable<Scalar> {
            var gapShape = shape
            gapShape[axis] = size
            return Ops.constant(.zeros(shape: gapShape))
        }
        var parts: [Variable<Scalar>] = []
        var position = 0
        for piece in sorted {
            if piece.region.range.lowerBound > position { parts.append(zeros(piece.region.range.lowerBound - position)) }
            parts.append(piece.gradient)
            position = piece.region.range.upperBound
        }
        if position < shape[axis] { parts.append(zeros(shape[axis] - position)) }
        return parts.count == 1 ? parts[0] : Ops.concatenate(parts, alongAxis: axis)
    }

    /// Stops unless every source is tracked and, unless unconnected sources may get zeros,
    /// `target` was recorded on this tape (or is a source): otherwise nothing could connect them.
    private static func checkConnections(
        _ target: Variable<Scalar>, _ sources: [Variable<Scalar>], _ state: State,
        _ unconnected: UnconnectedGradients
    ) {
        let op = "gradient"
        let isRecorded = sources.contains { $0.id == target.id }
            || state.nodes.contains { $0.outputID == target.id }
        Misuse.check(
            isRecorded || unconnected == .zero, op,
            "target \(target.shape) was not computed by an op recorded on this tape; compute it "
                + "inside tape.record { } from a watched variable")
        for (index, source) in sources.enumerated()
        where !source.requiresGradient && !state.tracked.contains(source.id) {
            Misuse.fail(
                op,
                "source \(index) \(source.shape) is not tracked by this tape; watch it before "
                    + "recording (tape.watch(_:)) or create it with requiresGradient: true")
        }
    }

    /// Checks a ``TensorBackward``'s result: one gradient per needed input, a tensor of the
    /// input's shape or the factors of a product of that shape.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func checkTensorBackwardResult(
        _ node: TapeNode<Scalar>, _ gradients: [TensorGradient<Scalar>?], _ needs: [Bool]
    ) {
        func op() -> String { "\(node.name) backward" }
        Misuse.check(
            gradients.count == node.inputs.count, op(),
            "the backward returned \(gradients.count) gradients for \(node.inputs.count) inputs")
        for index in gradients.indices where needs[index] {
            // Compared in place: this runs once per node of every walk.
            let input = node.inputs[index].shape, region = node.region(ofInput: index)
            func expected(_ axis: Int) -> Int { axis == region?.axis ? region!.range.count : input[axis] }
            let matches: Bool
            switch gradients[index] {
            case nil: Misuse.fail(op(), "the backward gave no gradient for needed input \(index)")
            case .tensor(let gradient)?:
                matches = gradient.shape.count == input.count && input.indices.allSatisfy { gradient.shape[$0] == expected($0) }
            case .product(let factors)?:
                let (lhs, rhs) = (factors.lhs[0].shape, factors.rhs[0].shape)
                matches = input.count == 2 && (factors.transposeLHS ? lhs[1] : lhs[0]) == expected(0)
                    && (factors.transposeRHS ? rhs[0] : rhs[1]) == expected(1)
            }
            guard !matches else { continue }
            let shape: [Int]
            switch gradients[index]! {
            case .tensor(let gradient): shape = gradient.shape
            case .product(let factors):
                let (lhs, rhs) = (factors.lhs[0].shape, factors.rhs[0].shape)
                shape = [factors.transposeLHS ? lhs[1] : lhs[0], factors.transposeRHS ? rhs[0] : rhs[1]]
            }
            Misuse.fail(op(), "gradient \(shape) for input \(index) of shape \(node.expectedGradientShape(index))")
        }
    }

    /// Checks a rule's result: one gradient per needed input, each of its input's shape, and in
    /// anomaly mode, finite.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func checkRuleResult(
        _ node: TapeNode<Scalar>, _ gradients: [Variable<Scalar>?], _ needs: [Bool]
    ) {
        // Index loops and the op's name built only for a message: this runs once per node.
        func op() -> String { "\(node.name) backward" }
        Misuse.check(
            gradients.count == node.inputs.count, op(),
            "the rule returned \(gradients.count) gradients for \(node.inputs.count) inputs")
        for index in gradients.indices {
            let input = node.inputs[index]
            guard let gradient = gradients[index] else {
                Misuse.check(!needs[index], op(), "the rule gave no gradient for needed input \(index)")
                continue
            }
            let expected = node.expectedGradientShape(index)
            Misuse.check(
                gradient.shape == expected, op(), "gradient \(gradient.shape) for input \(index) of shape \(expected)")
            if GraphContext.detectsAnomalies,
                !gradient.value.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) })
            {
                Misuse.fail(
                    "anomaly",
                    "the backward of \(node.name)\(node.site.map { " created at \($0)" } ?? "")"
                        + " produced a non-finite gradient for input \(index) of shape \(input.shape)")
            }
        }
    }
}
