/**
 * Whether a request to the mount point is a browser asking for a page: it accepts HTML and
 * does not ask for JSON. Browsers' navigations send `text/html,...,*\/*;q=0.8`; fetch, curl
 * and API clients send `*\/*` or `application/json`, and keep getting the JSON list.
 */
export function wantsViewerPage(request: Request): boolean {
  const accept = (request.headers.get('accept') ?? '').toLowerCase();
  return accept.includes('text/html') && !accept.includes('application/json');
}
