// The HTTP API client: fetch with the org token, answers as JSON, failures as
// typed errors. It has no side effects on the page: a 401 is an
// `Unauthorized` the caller decides about (the app signs out explicitly;
// signing in shows "not accepted" instead).

import { Aborted } from './refresh.js';

export { Aborted };

/** An org or project slug, as the API accepts it. */
export const SLUG_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The API answered with an error (`status` 0: it could not be reached). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** 401: the token is unknown, revoked or missing. */
export class Unauthorized extends ApiError {
  constructor(code, message) {
    super(401, code, message);
    this.name = 'Unauthorized';
  }
}

/** The server could not be reached at all. */
export class NetworkError extends ApiError {
  constructor(message) {
    super(0, 'network', message);
    this.name = 'NetworkError';
  }
}


/** An API client for one org and token. */
export class Client {
  /** @param {{org: string, token: string}} session */
  constructor(session) {
    this.org = session.org;
    this.token = session.token;
  }

  /** `/api/v1/orgs/{org}` + rest. */
  orgPath(rest) {
    return `/api/v1/orgs/${encodeURIComponent(this.org)}${rest}`;
  }

  /**
   * One call: resolves to the JSON answer (null for 204), rejects with
   * `Aborted` when `signal` fires, `NetworkError`, `Unauthorized` or
   * `ApiError` (with the API's own code and message) otherwise.
   */
  async call(method, path, body, { signal, etag, tagged } = {}) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (etag) headers['If-None-Match'] = etag;
    let resp;
    try {
      resp = await fetch(path, {
        method, headers, cache: 'no-store', signal,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      if (signal && signal.aborted) throw new Aborted();
      throw new NetworkError(`Could not reach buildsnap (${e.message}). Is the server running?`);
    }
    if (resp.status === 204) return null;
    // Asked with the tag of the last answer, and nothing changed.
    if (resp.status === 304) return tagged ? { notModified: true, etag } : null;
    let data = null;
    try { data = await resp.json(); } catch (e) {
      if (signal && signal.aborted) throw new Aborted();
      data = null;
    }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      const code = err.code || `http_${resp.status}`;
      const message = err.message || `HTTP ${resp.status}`;
      if (resp.status === 401) throw new Unauthorized(code, message);
      throw new ApiError(resp.status, code, message);
    }
    return tagged ? { notModified: false, etag: resp.headers.get('ETag'), data } : data;
  }

  get(path, opts) { return this.call('GET', path, undefined, opts); }
  /**
   * A conditional GET: sends `etag` (the tag of the last answer, if any) as
   * If-None-Match. Resolves to `{notModified: true, etag}` when the server
   * says nothing changed (304, no body sent), else `{notModified: false,
   * etag, data}` with the new answer and its tag.
   */
  getTagged(path, etag, opts = {}) { return this.call('GET', path, undefined, { ...opts, etag, tagged: true }); }
  put(path, body, opts) { return this.call('PUT', path, body, opts); }
  post(path, body, opts) { return this.call('POST', path, body, opts); }
  delete(path, opts) { return this.call('DELETE', path, undefined, opts); }
}
