import Testing

@testable import Nabla

extension LayerCase {
    /// Resampling, padding and pixel shuffles: each a rearrangement or a separable linear map.
    static let resampling: [LayerCase] = [
        .init(name: "Upsample(scale 2, nearest)", inputShape: [2, 2, 3, 3]) { _ in
            Upsample(scaleFactor: 2)
        } makeFloat: { _ in Upsample(scaleFactor: 2) },
        .init(name: "Upsample(size 5×7, bilinear)", inputShape: [2, 2, 3, 4]) { _ in
            Upsample(size: (5, 7), mode: .bilinear(alignCorners: false))
        } makeFloat: { _ in Upsample(size: (5, 7), mode: .bilinear(alignCorners: false)) },
        .init(name: "Upsample(scale 1.5, bilinear, align corners)", inputShape: [1, 2, 3, 4]) { _ in
            Upsample(scaleFactor: 1.5, mode: .bilinear(alignCorners: true))
        } makeFloat: { _ in Upsample(scaleFactor: 1.5, mode: .bilinear(alignCorners: true)) },
        .init(name: "AdaptiveAvgPool2D(2×3), 5×7 input", inputShape: [2, 2, 5, 7]) { _ in
            AdaptiveAvgPool2D(outputSize: (2, 3))
        } makeFloat: { _ in AdaptiveAvgPool2D(outputSize: (2, 3)) },
        .init(name: "ZeroPad2D(left 1, right 0, top 2, bottom 1)", inputShape: [2, 2, 3, 3]) { _ in
            ZeroPad2D(padding: Padding2D(left: 1, right: 0, top: 2, bottom: 1))
        } makeFloat: { _ in ZeroPad2D(padding: Padding2D(left: 1, right: 0, top: 2, bottom: 1)) },
        .init(name: "ReflectionPad2D(left 2, right 1, top 1, bottom 0)", inputShape: [2, 2, 3, 4]) { _ in
            ReflectionPad2D(padding: Padding2D(left: 2, right: 1, top: 1, bottom: 0))
        } makeFloat: { _ in ReflectionPad2D(padding: Padding2D(left: 2, right: 1, top: 1, bottom: 0)) },
        .init(name: "PixelShuffle(2)", inputShape: [2, 8, 2, 3]) { _ in PixelShuffle(upscaleFactor: 2) } makeFloat: { _ in PixelShuffle(upscaleFactor: 2) },
        .init(name: "PixelUnshuffle(2)", inputShape: [2, 2, 4, 2]) { _ in PixelUnshuffle(downscaleFactor: 2) } makeFloat: { _ in PixelUnshuffle(downscaleFactor: 2) },
    ]
}

/// Values worked out by hand, and the shapes the layers refuse.
@Suite struct ResamplingTests {
    /// A 1×2 plane `[1, 3]`: nearest ×2 repeats; bilinear to width 4 without corners samples at
    /// `(o + ½)/2 − ½` = −¼ → 0, ¼, ¾, 1¼ → 1, giving 1, 1.5, 2.5, 3; with corners at o/3·1.
    @Test(arguments: [false, true])
    func valuesByHand(autodiff: Bool) {
        let x = Tensor<Double>(shape: [1, 1, 1, 2], scalars: [1, 3])
        func run(_ layer: Layer<Double>) -> [Double] {
            layer.useAutodiff = autodiff
            return layer.forward(x).scalars
        }
        #expect(run(Upsample(scaleFactor: (1, 2))) == [1, 1, 3, 3])
        #expect(run(Upsample(size: (1, 4), mode: .bilinear(alignCorners: false))) == [1, 1.5, 2.5, 3])
        let corners = run(Upsample(size: (1, 4), mode: .bilinear(alignCorners: true)))
        expectClose(Tensor(corners), Tensor([1, 5.0 / 3, 7.0 / 3, 3]), rtol: 1e-15, atol: 1e-15)
        #expect(run(ZeroPad2D(padding: Padding2D(left: 1, right: 2, top: 0, bottom: 0))) == [0, 1, 3, 0, 0])
        #expect(run(ReflectionPad2D(padding: Padding2D(left: 1, right: 1, top: 0, bottom: 0))) == [3, 1, 3, 1])
        #expect(run(AdaptiveAvgPool2D(outputSize: (1, 1))) == [2])
    }

    /// PixelShuffle then PixelUnshuffle is the identity, and channel `c·r² + i·r + j` lands at
    /// `(h·r + i, w·r + j)`.
    @Test func pixelShuffleRoundTrips() {
        let x = Tensor<Double>(shape: [1, 4, 1, 1], scalars: [10, 11, 12, 13])
        #expect(pixelShuffle(x, upscaleFactor: 2).scalars == [10, 11, 12, 13])
        let y: Tensor<Double> = randomTensor([2, 8, 3, 2], seed: 1)
        #expect(pixelUnshuffle(pixelShuffle(y, upscaleFactor: 2), downscaleFactor: 2) == y)
    }

    @Test func reflectionAsLargeAsTheInputIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ReflectionPad2D<Float>(padding: 3).forward(.zeros(shape: [1, 1, 3, 5]))
        }
        #expect(standardError(result).contains(
            "ReflectionPad2D(left 3, right 3, top 3, bottom 3): input [1, 1, 3, 5]: padding left 3, right 3, top 3, bottom 3 must be smaller than the input's 3×5"))
    }

    @Test func pixelShuffleNeedsChannelsOfFullBlocks() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = PixelShuffle<Float>(upscaleFactor: 2).forward(.zeros(shape: [1, 6, 2, 2]))
        }
        #expect(standardError(result).contains("PixelShuffle(2): input [1, 6, 2, 2]: expected [batch, channels, height, width] with channels a multiple of 4"))
    }
}
