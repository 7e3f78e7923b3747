/**
 * `activity-log/http`: the web-standard HTTP layer, written once against `Request`/`Response`
 * so it runs wherever fetch does: the admin logs API (`createActivityLogsHandler`) and the
 * request scope every framework middleware opens (`createRequestScopeFactory`). The shims in
 * `adapters/frameworks/` only convert their request and response and bind the scope.
 */
export { extractRequestContext, isWellFormedRequestId, traceIdFromTraceparent, clientIpFromHeaders } from './request-context.js';
export type { RequestLike, RequestContextOptions, ExtractedRequestContext } from './request-context.js';
export type { CaptureMode, CaptureOptions, RouteCapture } from './capture.js';
export { createRequestScopeFactory } from './scope.js';
export type { ActivityMiddlewareOptions, ActivityRequestScope, ActorResult, RequestScopeFactory, RequestScopeInput } from './scope.js';
export { createActivityLogsHandler, csvCell, EXPORT_CSV_COLUMNS } from './logs-handler.js';
export type { ActivityLogsHandler, ActivityLogsOptions, ParameterProblem, UnauthorizedReason } from './logs-handler.js';
