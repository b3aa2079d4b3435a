/** What the ceiling process serves: each URL the app is measured on, as whom. */
export interface CeilingPlan {
  pages: {
    url: string;
    kind: "queue" | "mine" | "report" | "search";
    userId: number;
  }[];
}

/** A URL's query as Express's default ("simple") parser hands it to routes. */
export function paramsOf(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams);
}
