// Live rows only, unless the caller asked for soft-deleted ones too.
export function liveFilter(withDeleted: boolean, alias = 'u'): string {
  return withDeleted ? 'TRUE' : `${alias}.deleted_at IS NULL`;
}
