/** Grey shapes where posts are about to be, so the page keeps its layout while the replica is read. */
export function PostSkeletons({ count = 3 }: { count?: number }) {
  return (
    <div className="skeletons" role="status" aria-busy="true">
      <span className="visually-hidden">Loading…</span>
      {Array.from({ length: count }, (_, i) => (
        <div key={i} className="card skeleton-post" aria-hidden="true">
          <span className="skeleton avatar" />
          <span className="skeleton-lines">
            <span className="skeleton line short" />
            <span className="skeleton line" />
            <span className="skeleton line" />
          </span>
        </div>
      ))}
    </div>
  );
}

/** A screen whose code is still on its way: a title bar and a few posts' worth of placeholders. */
export function PageSkeleton() {
  return (
    <div className="page-skeleton">
      <span className="skeleton line title" aria-hidden="true" />
      <PostSkeletons />
    </div>
  );
}
