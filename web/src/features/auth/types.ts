export type Role = "patient" | "doctor" | "clinic_admin" | "operator" | "admin";

export interface SavedAddress {
  label: string;
  address: string;
  latitude: number;
  longitude: number;
}

export interface User {
  id: string;
  email: string;
  role: Role;
  first_name: string;
  last_name: string;
  phone: string | null;
  is_active: boolean;
  is_verified: boolean;
  specialization: string | null;
  license_number: string | null;
  license_expires_at: string | null;
  experience_years: number | null;
  languages: string[];
  treats_adults: boolean;
  treats_children: boolean;
  rating: number | null;
  created_at: string;
  /** Added with issue 13's backend: absent on an older engine. */
  locale?: "ru" | "en" | null;
  saved_addresses?: SavedAddress[];
  /** A doctor's verification and, when rejected, why (issue 14's backend). */
  verification?: "pending" | "verified" | "rejected";
  verification_reason?: string | null;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in: number;
}
