import CMPI
import Foundation
import Nabla

/// The processes of an `mpirun` job (`MPI_COMM_WORLD`), and the collectives data-parallel
/// training needs: barrier, broadcast, allreduce and allgather, on `Float`, `Double` and `Int64`
/// buffers in place. Every collective is started non-blocking and waited for at most
/// ``timeout`` seconds (a watchdog), so a rank that stops answering never hangs the others.
///
/// MPI is initialized once per process, by the first ``world(timeout:)``, asking for
/// `MPI_THREAD_SERIALIZED`: calls may come from any thread, one at a time, which this type's lock
/// ensures. Errors come back as return codes (the communicator's error handler is
/// `MPI_ERRORS_RETURN`), each turned into an ``MPIError``. Call ``finalize()`` once before the
/// process exits. MPI itself holds the only process-wide state.
public final class Communicator: @unchecked Sendable {
    /// This process's rank, `0..<size`.
    public let rank: Int
    /// The number of processes in the job.
    public let size: Int
    /// How long a collective may wait for the other ranks before it throws, in seconds: the
    /// watchdog that keeps a rank from hanging when another one stops answering.
    public let timeout: Double
    private let lock = NSLock()

    private init(rank: Int, size: Int, timeout: Double) {
        self.rank = rank
        self.size = size
        self.timeout = timeout
    }

    /// Whether this process was started by `mpirun` (Open MPI's environment names its rank).
    public static var isLaunchedByMPI: Bool {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] != nil
    }

    /// The job's communicator, initializing MPI if this process has not yet.
    ///
    /// - Parameter timeout: how long a collective waits for the other ranks, in seconds.
    /// - Throws: ``MPIError`` when the process was not started by `mpirun`, when MPI cannot start,
    ///   or when it grants less than `MPI_THREAD_SERIALIZED`.
    public static func world(timeout: Double = 300) throws(MPIError) -> Communicator {
        guard isLaunchedByMPI else {
            throw MPIError("MPI", "this process was not started by mpirun (run it as `mpirun -np N …`)")
        }
        var initialized: Int32 = 0
        try check(MPI_Initialized(&initialized), "MPI_Initialized")
        if initialized == 0 {
            var provided: Int32 = 0
            try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided), "MPI_Init_thread")
            guard provided >= Int32(MPI_THREAD_SERIALIZED) else {
                throw MPIError("MPI_Init_thread", "asked for MPI_THREAD_SERIALIZED, granted level \(provided)")
            }
        }
        let world = nabla_mpi_comm_world()
        try check(MPI_Comm_set_errhandler(world, nabla_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        return Communicator(rank: Int(rank), size: Int(size), timeout: timeout)
    }

    /// Shuts MPI down; no call may follow. Every rank calls it once before exiting.
    public func finalize() throws(MPIError) {
        try serialized { () throws(MPIError) in try Self.check(MPI_Finalize(), "MPI_Finalize") }
    }

    /// Waits until every rank has called it, at most ``timeout`` seconds.
    public func barrier() throws(MPIError) {
        try collective("MPI_Ibarrier") { MPI_Ibarrier(nabla_mpi_comm_world(), &$0) }
    }

    /// Replaces `tensor` on every rank by rank `root`'s; every rank passes the same shape.
    public func broadcast<Scalar: TensorScalar>(_ tensor: inout Tensor<Scalar>, from root: Int = 0) throws(MPIError) {
        try checkRoot(root)
        let count = tensor.scalarCount
        try tensor.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(MPIError) in
                try collective("MPI_Ibcast of \(count) \(Scalar.self) from rank \(root)") {
                    MPI_Ibcast(buffer.baseAddress, Int32(count), Self.datatype(Scalar.self), Int32(root), nabla_mpi_comm_world(), &$0)
                }
            }
        }.get()
    }

    /// Replaces `tensor` on every rank by the elementwise sum over the ranks; every rank passes
    /// the same shape. It waits at most ``timeout`` seconds for the other ranks.
    public func allreduceSum<Scalar: TensorScalar>(_ tensor: inout Tensor<Scalar>) throws(MPIError) {
        let count = tensor.scalarCount
        try tensor.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(MPIError) in
                try collective("MPI_Iallreduce of \(count) \(Scalar.self)") {
                    MPI_Iallreduce(
                        nabla_mpi_in_place(), buffer.baseAddress, Int32(count), Self.datatype(Scalar.self), nabla_mpi_sum(),
                        nabla_mpi_comm_world(), &$0)
                }
            }
        }.get()
    }

    /// Starts a non-blocking collective (`start` fills in its request, under the lock) and waits
    /// for it under the watchdog: every blocking collective goes through here.
    private func collective(_ operation: String, _ start: (inout MPI_Request?) -> Int32) throws(MPIError) {
        var request: MPI_Request? = nabla_mpi_request_null()
        try Self.check(serializedCode { start(&request) }, operation)
        try wait(for: &request, operation)
    }

    /// Starts summing `tensor` over the ranks without waiting; ``PendingAllreduce/wait()`` gives
    /// the sum. Every rank starts the same allreduces in the same order.
    public func startAllreduceSum<Scalar: TensorScalar>(_ tensor: Tensor<Scalar>) throws(MPIError) -> PendingAllreduce<Scalar> {
        let pending = PendingAllreduce(tensor, communicator: self)
        let count = tensor.scalarCount
        // The buffer is the pending allreduce's own storage, which nothing else holds: its address
        // stays valid until the wait.
        let started = pending.tensor.withUnsafeMutableBufferPointer { buffer in
            serializedCode {
                MPI_Iallreduce(
                    nabla_mpi_in_place(), buffer.baseAddress, Int32(count), Self.datatype(Scalar.self), nabla_mpi_sum(),
                    nabla_mpi_comm_world(), &pending.request)
            }
        }
        try Self.check(started, "MPI_Iallreduce of \(count) \(Scalar.self)")
        return pending
    }

    /// Whether `request` has completed, without waiting.
    func test(_ request: inout MPI_Request?, _ operation: @autoclosure () -> String) throws(MPIError) -> Bool {
        var done: Int32 = 0
        try Self.check(serializedCode { MPI_Test(&request, &done, nabla_mpi_status_ignore()) }, operation())
        return done != 0
    }

    /// Polls `request` until it completes, or throws once ``timeout`` seconds have passed.
    func wait(for request: inout MPI_Request?, _ operation: @autoclosure () -> String) throws(MPIError) {
        let deadline = Date().addingTimeInterval(timeout)
        var done: Int32 = 0
        while done == 0 {
            try Self.check(serializedCode { MPI_Test(&request, &done, nabla_mpi_status_ignore()) }, operation())
            guard done == 0 else { break }
            guard Date() < deadline else {
                throw MPIError(operation(), "no answer from the other ranks in \(Int(timeout)) s (did a rank stop?)")
            }
            sched_yield()
        }
    }

    /// Every rank's `values` (the same count on each), in rank order.
    public func allgather(_ values: [Int64]) throws(MPIError) -> [[Int64]] {
        var gathered = [Int64](repeating: 0, count: values.count * size)
        let count = values.count
        try values.withUnsafeBufferPointer { source in
            gathered.withUnsafeMutableBufferPointer { target in
                Result { () throws(MPIError) in
                    try collective("MPI_Iallgather of \(count) Int64") {
                        MPI_Iallgather(
                            source.baseAddress, Int32(count), nabla_mpi_int64(), target.baseAddress, Int32(count),
                            nabla_mpi_int64(), nabla_mpi_comm_world(), &$0)
                    }
                }
            }
        }.get()
        return (0..<size).map { Array(gathered[($0 * count)..<(($0 + 1) * count)]) }
    }

    // MARK: Plumbing

    private func checkRoot(_ root: Int) throws(MPIError) {
        guard (0..<size).contains(root) else { throw MPIError("broadcast", "root rank \(root) is not in 0..<\(size)") }
    }

    private func serialized<R>(_ body: () throws(MPIError) -> R) throws(MPIError) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func serializedCode(_ body: () -> Int32) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private static func datatype<Scalar: TensorScalar>(_: Scalar.Type) -> MPI_Datatype {
        Scalar.self == Float.self ? nabla_mpi_float() : nabla_mpi_double()
    }

    /// Throws an ``MPIError`` with MPI's description of `code` unless it is `MPI_SUCCESS`.
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(MPIError) {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw MPIError(operation(), String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

/// An allreduce in flight, from ``Communicator/startAllreduceSum(_:)``.
public final class PendingAllreduce<Scalar: TensorScalar> {
    fileprivate var tensor: Tensor<Scalar>
    fileprivate var request: MPI_Request? = nabla_mpi_request_null()
    private let communicator: Communicator
    private var finished = false

    /// Writing through `tensor` (in ``Communicator/startAllreduceSum(_:)``) gives it storage of its
    /// own if the caller still shares it, so the allreduce never writes into the caller's tensor.
    fileprivate init(_ tensor: Tensor<Scalar>, communicator: Communicator) {
        self.tensor = tensor
        self.communicator = communicator
    }

    /// Lets MPI make progress; whether the sum is ready.
    public func poll() throws(MPIError) -> Bool {
        if !finished { finished = try communicator.test(&request, "MPI_Iallreduce of \(tensor.scalarCount) \(Scalar.self)") }
        return finished
    }

    /// The sum over the ranks, waiting at most the communicator's timeout.
    public func wait() throws(MPIError) -> Tensor<Scalar> {
        if !finished { try communicator.wait(for: &request, "MPI_Iallreduce of \(tensor.scalarCount) \(Scalar.self)") }
        finished = true
        return tensor
    }
}
