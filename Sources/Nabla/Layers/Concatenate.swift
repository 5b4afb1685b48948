/// Parallel branches on the same input, their outputs joined along `axis` (the channels of NCHW
/// by default), as in an Inception block.
///
/// The backward splits the gradient along `axis` and sums the branches' input gradients.
/// Parameters are named by branch position (`0.weight`, `1.weight`).
public final class Concatenate<Scalar: TensorScalar>: Layer<Scalar> {
    public let branches: [Layer<Scalar>]
    public let axis: Int
    private var branchSizes: [Int] = []

    public init(_ branches: [Layer<Scalar>], alongAxis axis: Int = 1) {
        Misuse.check(!branches.isEmpty, "Concatenate", "no branches")
        self.branches = branches
        self.axis = axis
    }

    private var named: [(String, Layer<Scalar>)] { branches.enumerated().map { ("\($0.offset)", $0.element) } }

    public override var computesInputGradient: Bool {
        didSet { for branch in branches { branch.computesInputGradient = computesInputGradient } }
    }

    public override var isContainer: Bool { true }
    public override var sublayers: [Layer<Scalar>] { branches }
    public override var parameters: [Parameter<Scalar>] { branches.flatMap(\.parameters) }
    public override var buffers: [Buffer<Scalar>] { branches.flatMap(\.buffers) }
    public override var namedParameters: [(name: String, parameter: Parameter<Scalar>)] {
        Container.prefixed(named) { $0.namedParameters }
    }
    public override var namedBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        Container.prefixed(named) { $0.namedBuffers }
    }
    public override var randomStates: [SeededGenerator] {
        get { branches.flatMap(\.randomStates) }
        set { Container.distribute(newValue, to: branches) }
    }

    public override var description: String { Container.describe("Concatenate(axis: \(axis))", named) }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        var shapes: [[Int]] = []
        for branch in branches { shapes.append(try branch.outputShape(forInput: shape)) }
        guard let axis = Self.joinedAxis(shapes, axis) else {
            throw LayerShapeError("branch outputs \(shapes) differ outside axis \(self.axis)")
        }
        var joined = shapes[0]
        joined[axis] = shapes.map { $0[axis] }.reduce(0, +)
        return joined
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let outputs = branches.map { $0(input) }
        checkShapes(outputs.map(\.shape))
        return TensorOperations.concatenate(outputs, alongAxis: axis)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let outputs = branches.map { $0.forward(input) }
        let axis = checkShapes(outputs.map(\.shape))
        branchSizes = outputs.map { $0.shape[axis] }
        return Tensor(concatenating: outputs, alongAxis: axis)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        let pieces = outputGradient.split(sizes: branchSizes, alongAxis: axis)
        let gradients = zip(branches, pieces).map { $0.backward($1) }
        guard computesInputGradient else { return nil }
        var total = gradients[0]!
        for gradient in gradients.dropFirst() { total += gradient! }
        return total
    }

    /// Checks that the branch outputs differ only along `axis`; returns it resolved.
    @discardableResult
    private func checkShapes(_ shapes: [[Int]]) -> Int {
        guard let resolved = Self.joinedAxis(shapes, axis) else {
            Misuse.fail("Concatenate", "branch outputs \(shapes) differ outside axis \(axis)")
        }
        return resolved
    }

    /// `axis` resolved, if `shapes` have one rank, the axis, and agree outside it.
    private static func joinedAxis(_ shapes: [[Int]], _ axis: Int) -> Int? {
        let rank = shapes[0].count
        let resolved = axis < 0 ? axis + rank : axis
        guard (0..<rank).contains(resolved), shapes.allSatisfy({ $0.count == rank }) else { return nil }
        let others = shapes.map { shape in shape.enumerated().filter { $0.offset != resolved }.map(\.element) }
        return Set(others).count == 1 ? resolved : nil
    }
}
