// Records a request that failed, with the status it is answered (the audit module provides it).
// The errors filter only knows this shape, so errors/ depends on nothing above it.
export abstract class FailureRecorder {
  abstract recordFailure(request: object, outcome: { status: number; errorCode: string }): Promise<void>;
}
