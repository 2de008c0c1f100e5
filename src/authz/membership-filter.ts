/**
 * Conjur's MembershipSearch for `GET /roles/{account}/{kind}/{id}?members` and `?memberships`
 * (conjur:app/models/membership_search.rb): `kind` (one value or a list, from the query string
 * only) keeps the grants whose other side is of that kind, `search` keeps those whose other
 * side's id contains the text (Conjur ranks a full-text search; we match a case-insensitive
 * substring, as for resource lists), and `?members` pages with `limit`/`offset` (limit 10 when
 * only an offset is given), ordered by member id. The Python SDK always sends `kind` = the
 * role's own kind with `?members`, so this changes what its list_members_of_role returns.
 */
export interface GrantFilter {
  kinds?: readonly string[];
  search?: string;
}

const kindOf = (id: string): string => id.split(":", 3)[1] ?? "";

/** The grants whose `side` (the member for ?members, the role for ?memberships) passes the filter. */
export function filterGrants<T extends { role: string; member: string }>(
  rows: readonly T[],
  side: "role" | "member",
  filter: GrantFilter,
): T[] {
  const needle = filter.search?.toLowerCase();
  return rows.filter((row) => {
    const other = row[side];
    if (filter.kinds && !filter.kinds.includes(kindOf(other))) return false;
    return needle === undefined || other.toLowerCase().includes(needle);
  });
}

/** Conjur's result_set paging: only when a limit or an offset is given; then the limit defaults to 10. */
export function pageGrants<T>(rows: readonly T[], limit: number | undefined, offset: number | undefined): T[] {
  if (limit === undefined && offset === undefined) return [...rows];
  const start = offset ?? 0;
  return rows.slice(start, start + (limit ?? 10));
}
