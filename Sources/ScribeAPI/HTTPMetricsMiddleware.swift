import Dispatch
import Hummingbird
import Metrics
import Synchronization

/// Counts and times every request by its route template, under Hummingbird's
/// `MetricsMiddleware` names (`hb.requests`, `http.server.request.duration`,
/// `hb.request.errors`, `http.server.active_requests`; `scribe` gives them
/// Prometheus names).
///
/// It differs from Hummingbird's in one way: a response whose body is already
/// in memory (its length is known) is recorded when the handler answers, and
/// only a streamed body (an event stream, an answer streamed as it is written)
/// is wrapped to be recorded after its last byte. Wrapping every body cost the
/// history poll an eighth of its throughput (BENCHMARKS.md, issue 21).
struct HTTPMetricsMiddleware: RouterMiddleware {
    typealias Context = ScribeRequestContext

    private let handles = Handles()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let active = handles.active(request.method)
        active.increment()
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let endpoint = handles.endpoint(Handles.Key(route: context.endpointPath ?? "NotFound", method: request.method, status: status))
            endpoint.requests.increment()
            endpoint.errors.increment()
            active.decrement()
            throw error
        }
        let endpoint = handles.endpoint(Handles.Key(route: context.endpointPath ?? "Unknown", method: request.method, status: response.status))
        let answered = Answered(endpoint: endpoint, active: active, started: started)
        guard response.body.contentLength == nil else {
            answered.record()
            return response
        }
        var streamed = response
        let body = response.body
        streamed.body = ResponseBody { writer in
            do {
                try await body.write(writer)
                answered.record()
            } catch {
                answered.record()
                throw error
            }
        }
        return streamed
    }

    /// A request answered, to be recorded now or once its body is written.
    struct Answered: Sendable {
        let endpoint: Handles.Endpoint
        let active: Meter
        let started: UInt64

        func record() {
            endpoint.requests.increment()
            endpoint.duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            active.decrement()
        }
    }

    /// The metric handles, made once per method and per route, method and status.
    final class Handles: Sendable {
        struct Key: Hashable {
            var route: String
            var method: HTTPRequest.Method
            var status: HTTPResponse.Status
        }

        struct Endpoint: Sendable {
            let requests: Counter
            let duration: Timer
            let errors: Counter
        }

        private let endpoints = Mutex<[Key: Endpoint]>([:])
        private let methods = Mutex<[HTTPRequest.Method: Meter]>([:])

        func active(_ method: HTTPRequest.Method) -> Meter {
            methods.withLock { meters in
                if let meter = meters[method] { return meter }
                let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)])
                meters[method] = meter
                return meter
            }
        }

        func endpoint(_ key: Key) -> Endpoint {
            endpoints.withLock { endpoints in
                if let endpoint = endpoints[key] { return endpoint }
                let dimensions = [
                    ("http.route", key.route),
                    ("http.request.method", key.method.rawValue),
                    ("http.response.status_code", String(key.status.code)),
                ]
                let endpoint = Endpoint(
                    requests: Counter(label: "hb.requests", dimensions: dimensions),
                    duration: Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds),
                    errors: Counter(
                        label: "hb.request.errors",
                        dimensions: [("http.route", key.route), ("http.request.method", key.method.rawValue), ("error.type", String(key.status.code))]
                    )
                )
                endpoints[key] = endpoint
                return endpoint
            }
        }
    }
}
