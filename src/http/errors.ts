/** An error that carries the status and the message a person may see. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly expose = true,
  ) {
    super(message);
  }
}

/**
 * The one "not found": also what a caller gets for an object they may not
 * see, so a forbidden ID and a missing ID are indistinguishable.
 */
export class NotFoundError extends HttpError {
  constructor() {
    super(404, "Page not found");
  }
}

/** The input broke a rule the form could not show next to a field. */
export class ConflictError extends HttpError {
  constructor(message: string) {
    super(409, message);
  }
}
