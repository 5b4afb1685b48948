import Testing

@testable import Nabla

@Suite struct BufferPoolTests {
    /// 256 Ki Floats: a megabyte, well above the pooled minimum.
    static let largeShape = [256, 1024]

    @Test func freedBufferIsReusedForTheSameSize() {
        let pool = BufferPool()
        let first = pool.withInstalled { Tensor<Float>(repeating: 1, shape: Self.largeShape) }
        let address = first.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        _ = consume first
        let second = pool.withInstalled { Tensor<Float>(repeating: 2, shape: Self.largeShape) }
        #expect(second.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == address)
        #expect(pool.statistics.allocations == 1 && pool.statistics.reuses == 1)
        #expect(second.scalars.allSatisfy { $0 == 2 })
    }

    @Test func smallBuffersAndOtherSizesAreNotPooled() {
        let pool = BufferPool()
        pool.withInstalled {
            _ = Tensor<Float>(repeating: 1, shape: [10])
            _ = Tensor<Float>(repeating: 1, shape: Self.largeShape)
            _ = Tensor<Float>(repeating: 1, shape: [257, 1024])
        }
        #expect(pool.statistics.allocations == 2 && pool.statistics.reuses == 0)
    }

    /// A buffer of ``BufferPool/minimumByteCount`` bytes comes from the pool; one scalar fewer
    /// from the system allocator.
    @Test func pooledFromTheMinimumByteCount() {
        let pool = BufferPool()
        let count = BufferPool.minimumByteCount / MemoryLayout<Float>.stride
        pool.withInstalled {
            _ = Tensor<Float>(repeating: 1, shape: [count - 1])
            #expect(pool.statistics.allocations == 0)
            _ = Tensor<Float>(repeating: 1, shape: [count])
            _ = Tensor<Float>(repeating: 1, shape: [count])
        }
        #expect(pool.statistics.allocations == 1 && pool.statistics.reuses == 1)
    }

    @Test func tensorOutlivesItsPool() {
        func make() -> Tensor<Double> {
            BufferPool().withInstalled { Tensor<Double>(repeating: 3, shape: Self.largeShape) }
        }
        let tensor = make()
        #expect(tensor.scalars.allSatisfy { $0 == 3 })
    }

    @Test func capacityBoundsWhatIsKept() {
        let pool = BufferPool(capacity: 0)
        pool.withInstalled {
            _ = Tensor<Float>(repeating: 1, shape: Self.largeShape)
            _ = Tensor<Float>(repeating: 1, shape: Self.largeShape)
        }
        #expect(pool.statistics.allocations == 2 && pool.statistics.reuses == 0)
    }

    @Test func buffersFreedOnOtherTasksComeBack() async {
        let pool = BufferPool()
        let tensors = pool.withInstalled { (0..<16).map { Tensor<Float>(repeating: Float($0), shape: Self.largeShape) } }
        await withTaskGroup(of: Bool.self) { group in
            for (index, tensor) in tensors.enumerated() {
                group.addTask { tensor.scalars.allSatisfy { $0 == Float(index) } }
            }
            for await intact in group { #expect(intact) }
        }
        _ = consume tensors
        pool.withInstalled { for _ in 0..<16 { _ = Tensor<Float>(repeating: 0, shape: Self.largeShape) } }
        #expect(pool.statistics.allocations == 16 && pool.statistics.reuses == 16)
    }

    /// After the first step, a training step takes every large buffer (activations, gradients,
    /// workspaces) from the network's pool: no fresh allocation in the steady state.
    @Test(arguments: [false, true])
    func trainingStepAllocatesNothingNewAfterTheFirst(autodiff: Bool) throws {
        var generator = SeededGenerator(seed: 3)
        let network = try NeuralNetwork(NeuralNetworkArchitecture<Float>(
            inputShape: [1, 28, 28],
            layers: [
                Conv2D(inputChannels: 1, outputChannels: 16, kernelSize: 3, padding: 1, using: &generator), ReLU(),
                MaxPool2D(kernelSize: 2),
                Conv2D(inputChannels: 16, outputChannels: 32, kernelSize: 3, padding: 1, using: &generator), ReLU(),
                MaxPool2D(kernelSize: 2), Flatten(), Dense(inputSize: 32 * 49, outputSize: 10, using: &generator),
            ],
            useAutodiff: autodiff))
        let trainer = ClassifierTrainer(network: network, optimizer: Adam(network.parameters))
        let images = Tensor<Float>.randomUniform(shape: [32, 1, 28, 28], in: 0..<1, using: &generator)
        let labels = (0..<32).map { $0 % 10 }
        let pool = BufferPool()
        // The Winograd workspace is sized for the BLAS threads, so they must stay the same.
        let afterFirst = BLASThreadsForTests.unchanged {
            _ = pool.withInstalled { trainer.step(images: images, labels: labels) }
            let afterFirst = pool.statistics.allocations
            pool.withInstalled {
                trainer.step(images: images, labels: labels)
                trainer.step(images: images, labels: labels)
            }
            return afterFirst
        }
        #expect(afterFirst > 0)
        #expect(pool.statistics.allocations == afterFirst, "fresh buffers after the first step")
        #expect(pool.statistics.reuses > 0)
    }
}
