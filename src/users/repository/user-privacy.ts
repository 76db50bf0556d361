import { Injectable } from '@nestjs/common';

// GDPR anonymization. (Being implemented; see issue 3.)
@Injectable()
export class UserPrivacy {
  anonymizeUser(_id: string): Promise<void> {
    throw new Error('anonymizeUser is not implemented yet');
  }
}
