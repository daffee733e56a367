// The context of an event, filled like Segment's spec describes it.

export const VERSION = "0.1.0";

export function context(win = window) {
  const { location: l, document: d, navigator: n, screen: s } = win;
  const query = new URLSearchParams(l.search);
  const campaign = {};
  for (const key of ["source", "medium", "name", "term", "content"]) {
    const value = query.get("utm_" + (key == "name" ? "campaign" : key));
    if (value) campaign[key] = value;
  }
  return {
    library: { name: "cdp.js", version: VERSION },
    page: {
      url: l.href,
      path: l.pathname,
      title: d.title,
      referrer: d.referrer,
      search: l.search,
    },
    ...(Object.keys(campaign).length ? { campaign } : {}),
    userAgent: n.userAgent,
    locale: n.language,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    screen: { width: s.width, height: s.height },
  };
}
