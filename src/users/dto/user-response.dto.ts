import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { KeysetPage, Page, User, UserWithFiles } from '../user.model';

// The only shape in which a user leaves over HTTP: an explicit field list, so nothing the
// repository might add (let alone a hash) reaches a client by accident.
export class UserResponseDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ type: String, nullable: true }) fullName!: string | null;
  @ApiProperty() isActive!: boolean;
  @ApiProperty() isDeleted!: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deletedAt!: string | null;
  @ApiProperty({ type: [String] }) roles!: string[];
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastLoginAt!: string | null;
  @ApiProperty({ description: 'Increments on every change; send it back as If-Match' }) version!: number;
}

export class UserFileResponseDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() filename!: string;
  @ApiProperty() contentType!: string;
  @ApiProperty() sizeBytes!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class UserWithFilesResponseDto extends UserResponseDto {
  @ApiPropertyOptional({ type: [UserFileResponseDto] }) files?: UserFileResponseDto[];
}

export class UserPageDto {
  @ApiProperty({ type: [UserResponseDto] }) items!: UserResponseDto[];
  @ApiProperty({ description: 'Matching users; for searches exact up to 1,000' }) total!: number;
  @ApiPropertyOptional({ description: 'Present (true) when a search stopped counting at 1,000: total is 1,000 and more users match' })
  totalCapped?: true;
  @ApiProperty() offset!: number;
  @ApiProperty() limit!: number;
}

export class UserKeysetPageDto {
  @ApiProperty({ type: [UserResponseDto] }) items!: UserResponseDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `after` for the next page' }) nextCursor!: string | null;
}

export const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export function toUserResponse(user: User): UserResponseDto {
  return {
    id: user.id,
    email: user.email,
    fullName: user.fullName,
    isActive: user.isActive,
    isDeleted: user.isDeleted,
    deletedAt: iso(user.deletedAt),
    roles: user.roles,
    metadata: user.metadata,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    lastLoginAt: iso(user.lastLoginAt),
    version: user.version,
  };
}

export function toUserWithFilesResponse(user: UserWithFiles): UserWithFilesResponseDto {
  return {
    ...toUserResponse(user),
    files: user.files.map((f) => ({ ...f, createdAt: f.createdAt.toISOString() })),
  };
}

export function toUserPage(page: Page<User>): UserPageDto {
  return { ...page, items: page.items.map(toUserResponse) };
}

export function toKeysetPage(page: KeysetPage<User>): UserKeysetPageDto {
  return { items: page.items.map(toUserResponse), nextCursor: page.nextCursor };
}
