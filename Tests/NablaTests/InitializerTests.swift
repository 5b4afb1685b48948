import Testing

@testable import Nabla

/// `torch.nn.init`'s schemes: bounds and deviations worked out from PyTorch's formulas by hand,
/// checked on large samples; orthogonality; and `apply` over a network.
@Suite struct InitializerTests {
    private static func sample(_ initializer: Initializer, _ shape: [Int], seed: UInt64 = 1) -> [Double] {
        var generator = SeededGenerator(seed: seed)
        let tensor: Tensor<Double> = initializer.tensor(shape: shape, using: &generator)
        #expect(tensor.shape == shape)
        return tensor.scalars
    }

    private static func moments(_ values: [Double]) -> (mean: Double, deviation: Double, largest: Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        return (mean, variance.squareRoot(), values.map(abs).max()!)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        let initializer: Initializer
        let shape: [Int]
        /// For a uniform scheme its bound, for a normal one its standard deviation.
        let expected: Double
        let uniform: Bool
        var testDescription: String { "\(initializer) \(shape)" }
    }

    // [64, 32, 3, 3]: fan-in 32·9 = 288, fan-out 64·9 = 576.
    static let rows: [Row] = [
        Row(initializer: .xavierUniform(gain: 1), shape: [64, 32, 3, 3], expected: (6.0 / 864).squareRoot(), uniform: true),
        Row(initializer: .xavierNormal(gain: 2), shape: [64, 32, 3, 3], expected: 2 * (2.0 / 864).squareRoot(), uniform: false),
        Row(initializer: .kaimingNormal(mode: .fanOut, nonlinearity: .relu), shape: [64, 32, 3, 3],
            expected: 2.0.squareRoot() / 576.0.squareRoot(), uniform: false),
        Row(initializer: .kaimingUniform(mode: .fanIn, nonlinearity: .relu), shape: [64, 32, 3, 3],
            expected: 3.0.squareRoot() * 2.0.squareRoot() / 288.0.squareRoot(), uniform: true),
        // PyTorch's default for Linear and Conv2d: a = √5 gives U(±1/√fan_in).
        Row(initializer: .kaimingUniform(mode: .fanIn, nonlinearity: .leakyReLU(slope: 5.0.squareRoot())), shape: [256, 784],
            expected: 1 / 784.0.squareRoot(), uniform: true),
        // DCGAN's weights.
        Row(initializer: .normal(mean: 0, standardDeviation: 0.02), shape: [128, 64, 4, 4], expected: 0.02, uniform: false),
        Row(initializer: .uniform(lower: -0.3, upper: 0.3), shape: [50, 40], expected: 0.3, uniform: true),
    ]

    @Test(arguments: rows)
    func boundsAndDeviationsFollowPyTorch(_ row: Row) {
        let (mean, deviation, largest) = Self.moments(Self.sample(row.initializer, row.shape))
        #expect(abs(mean) < 0.05 * row.expected)
        if row.uniform {
            #expect(largest <= row.expected && largest > 0.99 * row.expected, "largest \(largest)")
            #expect(abs(deviation - row.expected / 3.0.squareRoot()) < 0.02 * row.expected)
        } else {
            #expect(abs(deviation - row.expected) < 0.02 * row.expected, "deviation \(deviation)")
        }
    }

    @Test func gainsAreCalculateGains() {
        #expect(Initializer.Nonlinearity.linear.gain == 1)
        #expect(Initializer.Nonlinearity.tanh.gain == 5.0 / 3)
        #expect(Initializer.Nonlinearity.relu.gain == 2.0.squareRoot())
        #expect(abs(Initializer.Nonlinearity.leakyReLU(slope: 0.2).gain - (2 / 1.04).squareRoot()) < 1e-15)
        #expect(Initializer.Nonlinearity.selu.gain == 0.75)
    }

    @Test func fansCountTheReceptiveField() {
        #expect(Initializer.fans(of: [64, 32, 3, 3]) == (288, 576))
        #expect(Initializer.fans(of: [10, 20]) == (20, 10))
        // A transposed convolution's [in, out, kh, kw] weight: PyTorch's rule reads axis 1 as fan-in.
        #expect(Initializer.fans(of: [128, 64, 4, 4]) == (1024, 2048))
    }

    /// Rows orthonormal for a wide matrix, columns for a tall one, scaled by the gain; a
    /// convolution weight is flattened to `[out, in·kh·kw]`.
    @Test(arguments: [[3, 5], [5, 3], [4, 2, 2, 2], [6, 6]])
    func orthogonalIsOrthogonal(_ shape: [Int]) {
        var generator = SeededGenerator(seed: 2)
        let q: Tensor<Double> = Initializer.orthogonal(gain: 1.5).tensor(shape: shape, using: &generator)
        let rows = shape[0], columns = shape.dropFirst().reduce(1, *)
        let matrix = q.reshaped(to: [rows, columns])
        let gram = rows <= columns
            ? matmul(matrix, matrix, transposeRHS: true) : matmul(matrix, matrix, transposeLHS: true)
        let size = min(rows, columns)
        var expected = Tensor<Double>.zeros(shape: [size, size])
        for i in 0..<size { expected[i, i] = 2.25 }
        expectClose(gram, expected, rtol: 1e-12, atol: 1e-12)
    }

    @Test func constantFills() {
        #expect(Self.sample(.constant(0.5), [2, 3]) == Array(repeating: 0.5, count: 6))
    }

    @Test func fewerThanTwoAxesIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let _: Tensor<Float> = Initializer.xavierUniform(gain: 1).tensor(shape: [10], using: &generator)
        }
        #expect(standardError(result).contains(
            "Initializer: weight [10]: fans need at least 2 axes (PyTorch's rule), as in [out, in, …]"))
    }

    /// `apply` visits the layers inside first, then the container, as PyTorch's `Module.apply`;
    /// DCGAN's initialization reaches a nested convolution.
    @Test func applyReachesNestedLayers() {
        var generator = SeededGenerator(seed: 0)
        let inner = Sequential<Double>(
            ConvTranspose2D(inputChannels: 16, outputChannels: 8, kernelSize: 4, using: &generator), ReLU())
        let network = Sequential<Double>(Dense(inputSize: 4, outputSize: 16, using: &generator), inner)
        var visited: [String] = []
        network.apply { visited.append(String(describing: type(of: $0))) }
        #expect(visited == ["Dense<Double>", "ConvTranspose2D<Double>", "ReLU<Double>", "Sequential<Double>", "Sequential<Double>"])
        network.apply { layer in
            guard let convolution = layer as? ConvTranspose2D<Double> else { return }
            convolution.weight.initialize(.normal(mean: 0, standardDeviation: 0.02), using: &generator)
            convolution.bias?.initialize(.constant(0), using: &generator)
        }
        let weight = (inner.layers[0] as! ConvTranspose2D<Double>).weight.value.scalars
        #expect(abs(Self.moments(weight).deviation - 0.02) < 0.002)
        #expect((inner.layers[0] as! ConvTranspose2D<Double>).bias!.value.scalars.allSatisfy { $0 == 0 })
    }
}
