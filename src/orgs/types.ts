export interface Organization {
  id: number;
  publicId: string;
  name: string;
  createdAt: Date;
}

export interface OrganizationSummary extends Organization {
  memberCount: number;
  reportCount: number;
}

export interface OrgContact {
  id: number;
  publicId: string;
  email: string;
  displayName: string;
  disabled: boolean;
  /** False while the invitation link has not been used yet. */
  hasPassword: boolean;
  /** The organization's administrator: colleagues and who sees which case. */
  isAdmin: boolean;
}

/** A case the organization's administrator gave one member. */
export interface OrgCaseGrant {
  userId: number;
  reportPublicId: string;
  reportTitle: string;
  grantedAt: Date;
}
