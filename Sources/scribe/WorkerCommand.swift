import ArgumentParser
import Logging
import ScribeOCR
import ScribeQueue
import ScribeStore
import ScribeWorker
import ServiceLifecycle

/// `scribe worker`: a worker daemon. Run any number, on any hosts, against one database.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim and run queued jobs (the ocr and answer stages of each file) until SIGTERM."
    )

    func run() async throws {
        let runtime = try Runtime.load(label: "scribe.worker")
        let database = runtime.makeDatabase()
        let store = Store(database: database, logger: Logger(label: "scribe.store"))
        let llm = runtime.makeLLMProvider()
        let ocr = try runtime.makeOCRPool()
        let worker = runtime.makeWorkerServices(store: store, provider: llm.provider, ocr: ocr)
        var configuration = ServiceGroupConfiguration(
            services: ([database] + worker).map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: runtime.logger
        )
        // A worker must always exit when asked. Every database call is bounded,
        // so shutdown finishes within the grace period even with the database
        // gone; as a backstop, past the grace period plus a margin it escalates
        // to cancellation, and a task that ignores that ends the process (its
        // leases expire and are rescued).
        configuration.maximumGracefulShutdownDuration = runtime.configuration.worker.shutdownGrace + .seconds(15)
        configuration.maximumCancellationDuration = .seconds(15)
        let group = ServiceGroup(configuration: configuration)
        do {
            try await group.run()
        } catch {
            await ocr.shutdown()
            try? await llm.shutdown()
            throw error
        }
        await ocr.shutdown()
        try await llm.shutdown()
    }
}
